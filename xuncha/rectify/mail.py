"""Optional delivery of notices (预警提醒 / 督办函) by e-mail through a configured SMTP server
(DOMAIN.md §8, "Warnings reach people"; issue 19 item 6).

Nothing is ever sent unless an administrator configured a server: `smtp_config` returns None
when there is neither STORE/config/mail.toml nor XUNCHA_SMTP_HOST, `describe(None)` is the line a
page or the command line shows then, and callers must not call `deliver` without a config
(it refuses None). The file, read with tomllib (every key optional but `host`)::

    host = "mail.example.gov.cn"          # the SMTP server (required)
    port = 587                            # default 25 (465 with security = "ssl")
    security = "starttls"                 # none | starttls | ssl; default starttls,
                                          # none when host is the loopback (127.0.0.1, localhost)
    username = "xuncha@example.gov.cn"    # only when the server asks for a login
    password_env = "XUNCHA_SMTP_PASSWORD" # the environment variable holding the password
    sender = "xuncha@example.gov.cn"      # From address (default xuncha@localhost)
    sender_name = "市委巡察办"            # From display name (default 巡察数据驾驶舱)
    timeout = 30                          # seconds per connection and command (default 30)
    max_attachment_mb = 10                # larger notices are not sent (default 10)
    ca_file = "/etc/xuncha/mail-ca.pem"   # CA of an internal server (default: the system's)

A password is never written in the file (the store's config/ is copied into every backup):
a `password` key is refused; the password is read from the environment variable the file
names, when connecting. TLS always verifies the server's certificate and name; there is no
switch to turn that off (an internal CA goes in `ca_file`). A login over an unencrypted
connection to another machine is refused. XUNCHA_SMTP_HOST and XUNCHA_SMTP_PORT override `host`
and `port` of the file, or make a configuration of their own without one (quick setups, e.g.
a relay on the loopback); an empty value counts as unset.

Delivery sends one message per recipient, not one per notice with everyone in To: each
person's result is known (a refused address fails its own delivery only), nobody sees the
others' addresses, and the body can address the person by name and position. A notice has a
few recipients (责任人, 责任领导, 主要负责人, 巡察办), so the attachment sent several times
costs little. One SMTP session carries the whole batch; a server that cannot be reached fails
every delivery with the reason, never raises. Every notice's attempt is one `notice_mail`
record of the audit trail (doc number, recipients' names, who failed and why; never the
message), written after the sending; the trail is checked before anything is sent, so a
trail that cannot be written stops the sending instead of leaving it unrecorded.
"""

from __future__ import annotations

import contextlib
import email.policy
import ipaddress
import math
import os
import re
import smtplib
import socket
import ssl
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Literal

from xuncha import audit
from xuncha.rectify.notices import OutgoingNotice, Recipient

MAIL_CONFIG = Path("config") / "mail.toml"
ENV_HOST = "XUNCHA_SMTP_HOST"
ENV_PORT = "XUNCHA_SMTP_PORT"
ACTION = "notice_mail"
NOT_CONFIGURED = "未配置邮件服务器：预警提醒不通过邮件发送，收件人登录后查看"
NO_EMAIL = "无电子邮箱"

Security = Literal["none", "starttls", "ssl"]
SECURITY_LABELS: dict[str, str] = {"none": "未加密", "starttls": "STARTTLS", "ssl": "SSL/TLS"}
DEFAULT_SENDER = "xuncha@localhost"
DEFAULT_SENDER_NAME = "巡察数据驾驶舱"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ATTACHMENT_MB = 10.0
_KEYS = (
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "sender",
    "sender_name",
    "timeout",
    "max_attachment_mb",
    "ca_file",
)
# Keys that would put a secret in the file: refused with a message of their own.
_SECRET_KEYS = ("password", "passwd", "pass", "secret", "smtp_password")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST = re.compile(r"^[A-Za-z0-9._:-]{1,253}$")
# An address as an internal mail server takes it: ASCII dot-atom local part and domain (no
# quoted local parts, no IP literals, no SMTPUTF8), so that nothing unusual reaches a header.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})*$")
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


class MailConfigError(ValueError):
    """The mail configuration cannot be used; the message (Chinese) names the key."""


# -- the notices (defined by xuncha.rectify.notices; here until that module is merged) ---------


@dataclass(frozen=True)
class Delivery:
    """One recipient of one notice: sent (`ok`) or why not (`error`, Chinese)."""

    doc_number: str
    name: str
    email: str | None
    ok: bool
    error: str | None


# -- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    """A validated server configuration. It holds no password: only the name of the
    environment variable that does, read when connecting."""

    host: str
    port: int
    security: Security
    sender: str
    sender_name: str = DEFAULT_SENDER_NAME
    username: str | None = None
    password_env: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_attachment_bytes: int = int(DEFAULT_MAX_ATTACHMENT_MB * 1024 * 1024)
    ca_file: str | None = None
    source: str = ""  # where it came from, for messages

    @property
    def address(self) -> str:
        """host:port ([host]:port for an IPv6 address)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def mail_config_path(store_root: str | os.PathLike[str]) -> Path:
    """Where a store's mail configuration is kept (beside workdays.toml and ecology.toml)."""
    return Path(store_root) / MAIL_CONFIG


def smtp_config(store_root: str | os.PathLike[str]) -> SmtpConfig | None:
    """The store's mail server: STORE/config/mail.toml with XUNCHA_SMTP_HOST / XUNCHA_SMTP_PORT
    over it, or those variables alone; None when neither the file nor XUNCHA_SMTP_HOST is
    there (nothing is to be sent). MailConfigError, naming the key, when it is not usable."""
    path = mail_config_path(store_root)
    env_host = os.environ.get(ENV_HOST, "").strip()
    env_port = os.environ.get(ENV_PORT, "").strip()
    if path.is_file():
        data = _read_file(path)
        source = str(path)
    elif path.exists():
        raise MailConfigError(f"邮件配置 {path} 不是文件")
    elif env_host:
        data, source = {}, f"环境变量 {ENV_HOST}"
    elif env_port:
        raise MailConfigError(
            f"已设置环境变量 {ENV_PORT}，但没有邮件服务器：请同时设置 {ENV_HOST} 或在 {path} 中配置 host"
        )
    else:
        return None
    if env_host:
        data["host"] = env_host
    if env_port:
        try:
            data["port"] = int(env_port)
        except ValueError:
            raise MailConfigError(
                f"环境变量 {ENV_PORT} 应为 1–65535 之间的整数，现为 {env_port!r}"
            ) from None
    return config_from_mapping(data, source)


def config_from_toml(text: str, source: str = "mail.toml") -> SmtpConfig:
    """A configuration from the file's text (no environment overrides), e.g. to check an edited
    file before saving it; MailConfigError names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MailConfigError(f"邮件配置 {source} 不是有效的 TOML（{exc}）") from None
    return config_from_mapping(data, source)


def config_from_mapping(data: Mapping[str, Any], source: str) -> SmtpConfig:
    """Validate every key; MailConfigError names the first one that is wrong."""
    where = f"邮件配置 {source}"
    for key in data:
        if key.lower() in _SECRET_KEYS:
            raise MailConfigError(
                f"{where}：不能在文件中写密码（{key}）。请把密码放在环境变量中，"
                '并用 password_env = "XUNCHA_SMTP_PASSWORD" 写明变量名'
            )
    unknown = [key for key in data if key not in _KEYS]
    if unknown:
        raise MailConfigError(
            f"{where}：无法识别的项 {'、'.join(unknown)}（可用的项：{'、'.join(_KEYS)}）"
        )

    host = data.get("host")
    if not isinstance(host, str) or not _HOST.match(host.strip()):
        raise MailConfigError(f"{where}：host 应为邮件服务器的主机名或 IP 地址，现为 {host!r}")
    host = host.strip()
    loopback = _is_loopback(host)

    security = data.get("security", "none" if loopback else "starttls")
    if security not in SECURITY_LABELS:
        raise MailConfigError(f"{where}：security 只能是 none、starttls 或 ssl，现为 {security!r}")

    port = data.get("port", 465 if security == "ssl" else 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise MailConfigError(f"{where}：port 应为 1–65535 之间的整数，现为 {port!r}")

    username = data.get("username")
    password_env = data.get("password_env")
    if username is not None and (not isinstance(username, str) or not username.strip()):
        raise MailConfigError(f"{where}：username 应为非空的文本，现为 {username!r}")
    if password_env is not None and (
        not isinstance(password_env, str) or not _ENV_NAME.match(password_env)
    ):
        raise MailConfigError(
            f"{where}：password_env 应为环境变量的名称（如 XUNCHA_SMTP_PASSWORD），"
            f"现为 {password_env!r}"
        )
    if username is not None and password_env is None:
        raise MailConfigError(f"{where}：写了 username 就需要 password_env（存放密码的环境变量名）")
    if password_env is not None and username is None:
        raise MailConfigError(
            f"{where}：写了 password_env 就需要 username（登录邮件服务器的用户名）"
        )
    if password_env is not None and not os.environ.get(password_env):
        raise MailConfigError(
            f"{where}：password_env 指明的环境变量 {password_env} 未设置或为空，无法登录邮件服务器"
        )
    if password_env is not None and not os.environ[password_env].isascii():
        raise MailConfigError(
            f"{where}：环境变量 {password_env} 中的密码含有非 ASCII 字符，无法用于登录邮件服务器"
        )
    if username is not None and not username.isascii():
        raise MailConfigError(f"{where}：username 含有非 ASCII 字符，无法用于登录邮件服务器")
    if username is not None and security == "none" and not loopback:
        raise MailConfigError(
            f'{where}：security = "none" 时不能登录 {host}（密码会以明文经网络传送）；'
            "请改用 starttls 或 ssl"
        )

    sender = data.get("sender", DEFAULT_SENDER)
    if not isinstance(sender, str) or not valid_email(sender):
        raise MailConfigError(f"{where}：sender 应为发件人的电子邮箱地址，现为 {sender!r}")
    sender_name = data.get("sender_name", DEFAULT_SENDER_NAME)
    if (
        not isinstance(sender_name, str)
        or not sender_name.strip()
        or len(sender_name) > 64
        or any(ord(c) < 32 for c in sender_name)
    ):
        raise MailConfigError(
            f"{where}：sender_name 应为不超过 64 个字符的一行文本（如 市委巡察办），现为 {sender_name!r}"
        )

    timeout = _positive(data, "timeout", DEFAULT_TIMEOUT, 600, where, "秒")
    max_mb = _positive(data, "max_attachment_mb", DEFAULT_MAX_ATTACHMENT_MB, 100, where, "MB")

    ca_file = data.get("ca_file")
    if ca_file is not None:
        if not isinstance(ca_file, str) or not ca_file.strip():
            raise MailConfigError(f"{where}：ca_file 应为 CA 证书文件的路径，现为 {ca_file!r}")
        if security == "none":
            raise MailConfigError(f'{where}：security = "none" 时不使用 ca_file')
        if not Path(ca_file).is_file():
            raise MailConfigError(f"{where}：ca_file 指向的文件不存在：{ca_file}")

    return SmtpConfig(
        host=host,
        port=port,
        security=security,
        sender=sender,
        sender_name=sender_name.strip(),
        username=username.strip() if username is not None else None,
        password_env=password_env,
        timeout=timeout,
        max_attachment_bytes=int(max_mb * 1024 * 1024),
        ca_file=ca_file,
        source=source,
    )


def describe(config: SmtpConfig | None) -> str:
    """One line for pages and the command line: whether and where notices are e-mailed."""
    if config is None:
        return NOT_CONFIGURED
    return f"邮件服务器 {config.address}（{SECURITY_LABELS[config.security]}）"


def valid_email(address: str) -> bool:
    """True for an ordinary ASCII address (name@domain), the only kind sent to."""
    return isinstance(address, str) and len(address) <= 254 and bool(_EMAIL.match(address))


# -- delivery -----------------------------------------------------------------------------------


def deliver(
    config: SmtpConfig,
    notices: Sequence[OutgoingNotice],
    *,
    store_root: str | os.PathLike[str],
    user: str,
) -> list[Delivery]:
    """Send each notice to each of its recipients that has an e-mail address, one message per
    recipient, over one SMTP session; one Delivery per recipient, in order. Failures (no
    address, an invalid one, an attachment over the limit, a server that cannot be reached or
    refuses) are Deliveries with a Chinese reason, never exceptions. Each notice's attempt is
    recorded in the audit trail (action notice_mail) once its recipients are done. The trail is
    checked first: AuditError, and nothing sent, when it cannot be written; a record that
    fails all the same after a notice was sent raises AuditError and stops the batch there."""
    if not isinstance(config, SmtpConfig):
        raise TypeError("deliver() needs an SmtpConfig: without one nothing may be sent")
    if not notices:
        return []
    audit.check_before_write(store_root, "邮件发送")
    session = _Session(config)
    out: list[Delivery] = []
    try:
        for notice in notices:
            results = [_deliver_one(session, config, notice, r) for r in notice.recipients]
            out += results
            failed = [{"name": d.name, "error": d.error} for d in results if not d.ok]
            audit.record(
                store_root,
                user=user,
                action=ACTION,
                doc_number=notice.doc_number,
                kind=notice.kind,
                unit_name=notice.unit_name,
                server=config.address,
                to=[r.name for r in notice.recipients],
                sent=[d.name for d in results if d.ok],
                ok=bool(results) and not failed,
                errors=failed if results else [{"name": "", "error": "没有收件人"}],
            )
    finally:
        session.close()
    return out


def _deliver_one(
    session: _Session, config: SmtpConfig, notice: OutgoingNotice, recipient: Recipient
) -> Delivery:
    def failed(error: str) -> Delivery:
        return Delivery(notice.doc_number, recipient.name, recipient.email, False, error)

    address = (recipient.email or "").strip()
    if not address:
        return failed(NO_EMAIL)
    if not valid_email(address):
        return failed(f"电子邮箱格式不正确：{address}")
    if len(notice.docx) > config.max_attachment_bytes:
        return failed(
            f"附件 {_size(len(notice.docx))}，超过设置的上限 "
            f"{_size(config.max_attachment_bytes)}，未发送"
        )
    try:
        message = build_message(config, notice, recipient)
    except (ValueError, TypeError) as exc:  # e.g. a line break in a name: no header injection
        return failed(f"收件人或文书信息含有无法写入邮件的字符（{exc}），未发送")
    error = session.send(message, address)
    if error is not None:
        return failed(error)
    return Delivery(notice.doc_number, recipient.name, address, True, None)


def subject(notice: OutgoingNotice) -> str:
    """E.g. 【预警提醒】巡察预警〔2026〕12号 关于市财政局巡察整改事项的预警提醒."""
    return f"【{notice.kind}】{notice.doc_number} 关于{notice.unit_name}巡察整改事项的{notice.kind}"


def body(config: SmtpConfig, notice: OutgoingNotice, recipient: Recipient) -> str:
    """The message text: what it is and where the details are (the dashboard), nothing more."""
    who = f"{recipient.name}（{recipient.position}）" if recipient.position else recipient.name
    day = notice.issued_on
    return (
        f"{who}：\n\n"
        f"{day.year}年{day.month}月{day.day}日，关于{notice.unit_name}巡察整改事项的"
        f"{notice.kind}（{notice.doc_number}）已发出，文书见附件《{notice.file_name}》。\n\n"
        "整改事项的详细情况请登录巡察数据驾驶舱查看。\n\n"
        "本邮件由巡察数据驾驶舱自动发送，请勿直接回复。\n"
        f"{config.sender_name}\n"
    )


def build_message(config: SmtpConfig, notice: OutgoingNotice, recipient: Recipient) -> EmailMessage:
    """The message to one recipient: Chinese headers encoded per RFC 2047, the body in UTF-8
    base64, the .docx attached with its name encoded per RFC 2231; 7-bit clean throughout, so
    any server takes it."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = subject(notice)
    message["From"] = Address(config.sender_name, addr_spec=config.sender)
    message["To"] = Address(recipient.name, addr_spec=(recipient.email or "").strip())
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=config.sender.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    message.set_content(body(config, notice, recipient), charset="utf-8", cte="base64")
    message.add_attachment(
        notice.docx, maintype=DOCX_TYPE[0], subtype=DOCX_TYPE[1], filename=notice.file_name
    )
    return message


class _Session:
    """One SMTP connection for a batch, opened on the first message. When it cannot be opened,
    the reason is kept and every later message fails with it (no new attempt per recipient,
    which against a silent firewall would wait the timeout each time); when the server drops
    it midway, the next message opens it once more."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.smtp: smtplib.SMTP | None = None
        self.broken: str | None = None

    def send(self, message: EmailMessage, address: str) -> str | None:
        """None when the server accepted the message for `address`, else why not."""
        if self.broken is not None:
            return self.broken
        if self.smtp is None:
            try:
                self.smtp = self._open()
            except (OSError, smtplib.SMTPException, ValueError) as exc:
                self.broken = _connect_error(self.config, exc)
                return self.broken
        try:
            self.smtp.send_message(message, from_addr=self.config.sender, to_addrs=[address])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (0, b""))
            return f"邮件服务器拒收该收件人地址（{_reply(code, text)}）"
        except smtplib.SMTPSenderRefused as exc:
            return f"邮件服务器拒绝了这封邮件（发件人 {exc.sender}：{_reply(exc.smtp_code, exc.smtp_error)}）"
        except smtplib.SMTPDataError as exc:
            return f"邮件服务器拒绝了这封邮件（{_reply(exc.smtp_code, exc.smtp_error)}）"
        except smtplib.SMTPServerDisconnected:
            self.close()
            return "发送中邮件服务器断开了连接，未确认送达"
        except smtplib.SMTPResponseException as exc:
            return f"邮件服务器返回错误（{_reply(exc.smtp_code, exc.smtp_error)}）"
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            self.close()
            return f"发送失败（{_os_reason(exc)}），未确认送达"
        return None

    def _open(self) -> smtplib.SMTP:
        config = self.config
        smtp: smtplib.SMTP
        if config.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=_tls(config)
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            smtp.ehlo()
            if config.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise _Refusal("不支持 STARTTLS，按配置不以明文发送")
                smtp.starttls(context=_tls(config))
                smtp.ehlo()
            if config.username is not None and config.password_env is not None:
                password = os.environ.get(config.password_env)
                if not password:
                    raise _Refusal(f"环境变量 {config.password_env} 未设置，无法登录邮件服务器")
                smtp.login(config.username, password)
        except BaseException:
            _quietly_close(smtp)
            raise
        return smtp

    def close(self) -> None:
        if self.smtp is not None:
            smtp, self.smtp = self.smtp, None
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                _quietly_close(smtp)


class _Refusal(smtplib.SMTPException):
    """A reason of our own not to use a connection (its message is Chinese)."""


def _tls(config: SmtpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.ca_file)


def _quietly_close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


def _connect_error(config: SmtpConfig, exc: BaseException) -> str:
    where = f"邮件服务器 {config.address}"
    if isinstance(exc, _Refusal):
        return f"{where}：{exc}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"{where} 拒绝登录（用户名或密码错误：{_reply(exc.smtp_code, exc.smtp_error)}）"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"{where} 不支持登录认证（AUTH），请检查 username 配置"
    if isinstance(exc, smtplib.SMTPConnectError):
        return f"{where} 拒绝连接（{_reply(exc.smtp_code, exc.smtp_error)}）"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"{where} 断开了连接（{exc}）"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{where} 返回错误（{_reply(exc.smtp_code, exc.smtp_error)}）"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{where} 的证书未通过校验（{exc.verify_message}），未发送"
    if isinstance(exc, ssl.SSLError):
        return f"与{where} 建立加密连接失败（{exc.reason or exc}），未发送"
    if isinstance(exc, UnicodeError):
        return f"{where}：用户名或密码含有非 ASCII 字符，无法登录"
    if isinstance(exc, socket.gaierror):
        return f"无法解析邮件服务器地址 {config.host}"
    if isinstance(exc, ConnectionRefusedError):
        return f"无法连接{where}（连接被拒绝）"
    if isinstance(exc, TimeoutError):
        return f"连接{where} 超时（{config.timeout:g} 秒）"
    return f"无法连接{where}（{_os_reason(exc)}）"


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return f"{code} {' '.join(text.split())}".strip()


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive(
    data: Mapping[str, Any], key: str, default: float, limit: float, where: str, unit: str
) -> float:
    value = data.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= limit
    ):
        raise MailConfigError(
            f"{where}：{key} 应为大于 0、不超过 {limit:g} 的数（{unit}），现为 {value!r}"
        )
    return float(value)


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MailConfigError(f"无法读取邮件配置 {path}（{exc.strerror or exc}）") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MailConfigError(f"邮件配置 {path} 不是 UTF-8 编码的文本") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MailConfigError(f"邮件配置 {path} 不是有效的 TOML（{exc}）") from None


__all__ = [
    "ACTION",
    "ENV_HOST",
    "ENV_PORT",
    "MAIL_CONFIG",
    "NOT_CONFIGURED",
    "NO_EMAIL",
    "SECURITY_LABELS",
    "Delivery",
    "MailConfigError",
    "OutgoingNotice",
    "Recipient",
    "SmtpConfig",
    "body",
    "build_message",
    "config_from_mapping",
    "config_from_toml",
    "deliver",
    "describe",
    "mail_config_path",
    "smtp_config",
    "subject",
    "valid_email",
]

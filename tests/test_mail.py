"""Optional e-mail delivery of notices (xuncha.rectify.mail) against a real SMTP server
(aiosmtpd) on 127.0.0.1 with an ephemeral port: plain, STARTTLS with a login, implicit TLS,
a refused recipient, an unreachable server, and the configuration file's checks."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xuncha import audit
from xuncha.rectify import mail
from xuncha.rectify.mail import OutgoingNotice, Recipient

SENDER = "xuncha@jw.example.cn"
ZHANG = Recipient("张三", "责任人", "zhangsan@czj.example.cn", "zhangsan")
LI = Recipient("李四", "责任领导", "lisi@czj.example.cn", None)
WANG = Recipient("王五", "主要负责人", None, None)
ZHAO = Recipient("赵六", "巡察办", "zhaoliu@jw.example.cn", "zhaoliu")
DOCX = bytes((i * 37 + i // 256) % 256 for i in range(20_000))
FILE_NAME = "巡察预警〔2026〕12号 关于市财政局巡察整改事项的预警提醒（第一轮巡察反馈问题）.docx"


def notice(*recipients: Recipient, doc_number: str = "巡察预警〔2026〕12号") -> OutgoingNotice:
    return OutgoingNotice(
        doc_number=doc_number,
        kind="预警提醒",
        unit_name="市财政局",
        issued_on=dt.date(2026, 11, 20),
        recipients=recipients,
        file_name=FILE_NAME,
        docx=DOCX,
    )


# -- a local SMTP server ------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: str | None

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it accepts and refuses some addresses.
    It runs in the server's thread; the client's send returns only after handle_DATA has
    answered, so what was accepted is here when deliver() returns."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = session.auth_data
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=bytes(envelope.original_content),
                tls=session.ssl is not None,
                login=data.login.decode() if isinstance(data, LoginPassword) else None,
            )
        )
        return "250 Message accepted for delivery"


class LoopbackController(Controller):
    """aiosmtpd's Controller on an ephemeral port: the port the kernel chose is read from the
    listening socket before the controller's own first connection uses it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server(inbox: Inbox, **kwargs: Any) -> Iterator[int]:
    controller = LoopbackController(inbox, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _no_mail_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (mail.ENV_HOST, mail.ENV_PORT, "XUNCHA_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    root.mkdir()
    return root


def plain_config(port: int, **extra: Any) -> mail.SmtpConfig:
    data = {"host": "127.0.0.1", "port": port, "sender": SENDER, "sender_name": "市委巡察办"}
    return mail.config_from_mapping({**data, **extra}, "测试")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), and its key."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xuncha test mail")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def authenticator(inbox: Inbox, password: str) -> Callable[[Any, Any, Any, str, Any], AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == password.encode()
        if ok:
            inbox.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    return check


@pytest.fixture()
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# -- delivery -----------------------------------------------------------------------------------


def test_one_message_per_recipient_with_chinese_subject_and_attachment(store: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        results = mail.deliver(
            plain_config(port), [notice(ZHANG, LI, WANG)], store_root=store, user="巡察办甲"
        )

    assert [(d.name, d.ok, d.error) for d in results] == [
        ("张三", True, None),
        ("李四", True, None),
        ("王五", False, "无电子邮箱"),
    ]
    assert {d.doc_number for d in results} == {"巡察预警〔2026〕12号"}
    assert [r.rcpt_tos for r in inbox.received] == [[ZHANG.email], [LI.email]]
    assert {r.mail_from for r in inbox.received} == {SENDER}
    ids = set()
    for received, person in zip(inbox.received, (ZHANG, LI), strict=True):
        raw = received.content
        raw.decode("ascii")  # 7-bit clean: Chinese only as RFC 2047 / 2231 / base64
        assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]
        other = (LI if person is ZHANG else ZHANG).email
        assert other is not None and other.encode() not in raw  # addresses kept private
        message = received.message()
        assert message["Subject"] == (
            "【预警提醒】巡察预警〔2026〕12号 关于市财政局巡察整改事项的预警提醒"
        )
        assert message["To"].addresses[0].display_name == person.name
        assert message["To"].addresses[0].addr_spec == person.email
        assert message["From"].addresses[0].display_name == "市委巡察办"
        assert message["From"].addresses[0].addr_spec == SENDER
        assert message["Date"].datetime is not None
        assert message["Message-ID"].endswith("@jw.example.cn>")
        ids.add(message["Message-ID"])
        assert message["Auto-Submitted"] == "auto-generated"
        text = message.get_body(("plain",))
        assert text is not None
        content = text.get_content()
        assert f"{person.name}（{person.position}）" in content
        assert "请登录巡察数据驾驶舱" in content
        assert "2026年11月20日" in content
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_filename() == FILE_NAME
        assert b"filename*" in raw  # RFC 2231
        assert attachment.get_content_type() == (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        )
        assert attachment.get_content() == DOCX
    assert len(ids) == 2


def test_recipient_refused_by_the_server_fails_alone(store: Path) -> None:
    inbox = Inbox(refuse={"lisi@czj.example.cn"})
    with smtp_server(inbox) as port:
        results = mail.deliver(
            plain_config(port),
            [notice(ZHANG, LI, ZHAO), notice(LI, doc_number="巡察督办〔2026〕3号")],
            store_root=store,
            user="巡察办甲",
        )

    assert [(d.doc_number, d.name, d.ok) for d in results] == [
        ("巡察预警〔2026〕12号", "张三", True),
        ("巡察预警〔2026〕12号", "李四", False),
        ("巡察预警〔2026〕12号", "赵六", True),
        ("巡察督办〔2026〕3号", "李四", False),
    ]
    refused = results[1].error
    assert refused is not None and "拒收该收件人" in refused and "550" in refused
    assert [r.rcpt_tos for r in inbox.received] == [[ZHANG.email], [ZHAO.email]]


def test_unreachable_server_fails_every_delivery_without_raising(
    store: Path, refused_port: int
) -> None:
    results = mail.deliver(
        plain_config(refused_port),
        [notice(ZHANG, WANG, LI), notice(ZHAO, doc_number="巡察督办〔2026〕3号")],
        store_root=store,
        user="巡察办甲",
    )
    assert [(d.name, d.ok) for d in results] == [
        ("张三", False),
        ("王五", False),
        ("李四", False),
        ("赵六", False),
    ]
    assert results[1].error == "无电子邮箱"
    reason = f"无法连接邮件服务器 127.0.0.1:{refused_port}（连接被拒绝）"
    assert [results[0].error, results[2].error, results[3].error] == [reason] * 3
    records = [e for e in audit.entries(store) if e.action == "notice_mail"]
    assert [(e.details["doc_number"], e.details["ok"]) for e in records] == [
        ("巡察预警〔2026〕12号", False),
        ("巡察督办〔2026〕3号", False),
    ]


class _Hangup(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.connections += 1  # type: ignore[attr-defined]
        # returning closes the connection before any greeting


def test_a_server_that_cannot_be_used_is_tried_once_per_batch(store: Path) -> None:
    """A server that accepts and hangs up at once: every delivery fails with the reason, after
    one connection (not one per recipient: against a silent firewall each would wait the
    whole timeout)."""
    with socketserver.TCPServer(("127.0.0.1", 0), _Hangup) as server:
        server.connections = 0  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, args=(0.05,))
        thread.start()
        try:
            port = server.server_address[1]
            results = mail.deliver(
                plain_config(port),
                [notice(ZHANG, LI), notice(ZHAO, doc_number="巡察督办〔2026〕3号")],
                store_root=store,
                user="巡察办甲",
            )
        finally:
            server.shutdown()
            thread.join()
        connections = server.connections  # type: ignore[attr-defined]
    assert [d.ok for d in results] == [False, False, False]
    assert len({d.error for d in results}) == 1
    error = results[0].error
    assert error is not None and error.startswith(f"邮件服务器 127.0.0.1:{port} 断开了连接")
    assert connections == 1


def test_recipients_without_a_usable_address_never_connect(store: Path, refused_port: int) -> None:
    odd = Recipient("钱七", "责任人", "qianqi at czj", None)
    injected = Recipient("孙八\r\nBcc: x@evil.example.cn", "责任人", "sunba@czj.example.cn", None)
    results = mail.deliver(
        plain_config(refused_port), [notice(WANG, odd)], store_root=store, user="巡察办甲"
    )
    # A connection attempt would have given "无法连接…" instead.
    assert [d.error for d in results] == ["无电子邮箱", "电子邮箱格式不正确：qianqi at czj"]
    inbox = Inbox()
    with smtp_server(inbox) as port:
        (result,) = mail.deliver(
            plain_config(port), [notice(injected)], store_root=store, user="巡察办甲"
        )
    assert not result.ok and result.error is not None and "无法写入邮件的字符" in result.error
    assert inbox.received == []


def test_attachment_over_the_limit_is_not_sent(store: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        results = mail.deliver(
            plain_config(port, max_attachment_mb=1 / 64),  # 16 KB < 20 000 bytes
            [notice(ZHANG, LI)],
            store_root=store,
            user="巡察办甲",
        )
    assert [d.ok for d in results] == [False, False]
    assert results[0].error == "附件 19.5 KB，超过设置的上限 16.0 KB，未发送"
    assert inbox.received == []


def test_every_attempt_is_audited_without_the_message(store: Path) -> None:
    inbox = Inbox(refuse={"lisi@czj.example.cn"})
    with smtp_server(inbox) as port:
        mail.deliver(
            plain_config(port),
            [notice(ZHANG, LI, WANG), notice(doc_number="巡察督办〔2026〕3号")],
            store_root=store,
            user="巡察办甲",
        )
    records = [e for e in audit.entries(store) if e.action == "notice_mail"]
    assert len(records) == 2
    first, second = records
    assert first.user == "巡察办甲"
    details = first.details
    assert details["doc_number"] == "巡察预警〔2026〕12号"
    assert details["kind"] == "预警提醒"
    assert details["to"] == ["张三", "李四", "王五"]
    assert details["sent"] == ["张三"]
    assert details["ok"] is False
    assert [e["name"] for e in details["errors"]] == ["李四", "王五"]
    assert details["errors"][1]["error"] == "无电子邮箱"
    assert details["server"] == f"127.0.0.1:{port}"
    assert second.details["to"] == [] and second.details["ok"] is False
    assert audit.verify(store) == []
    trail = audit.audit_path(store).read_text(encoding="utf-8")
    assert "请登录" not in trail and "文书见附件" not in trail  # no message body


def test_all_delivered_is_audited_ok(store: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        mail.deliver(plain_config(port), [notice(ZHANG)], store_root=store, user="巡察办甲")
    (record,) = [e for e in audit.entries(store) if e.action == "notice_mail"]
    assert record.details["ok"] is True and record.details["errors"] == []


def test_a_trail_that_does_not_verify_stops_the_sending(store: Path) -> None:
    audit.record(store, user="巡察办甲", action="login")
    path = audit.audit_path(store)
    line = json.loads(path.read_text(encoding="utf-8"))
    line["user"] = "别人"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    inbox = Inbox()
    with smtp_server(inbox) as port, pytest.raises(audit.AuditError, match="邮件发送未执行"):
        mail.deliver(plain_config(port), [notice(ZHANG)], store_root=store, user="巡察办甲")
    assert inbox.received == []


def test_deliver_refuses_to_run_without_a_configuration(store: Path) -> None:
    with pytest.raises(TypeError):
        mail.deliver(None, [notice(ZHANG)], store_root=store, user="巡察办甲")  # type: ignore[arg-type]
    assert audit.entries(store) == []


# -- encrypted connections ------------------------------------------------------------------------


def test_starttls_with_login(
    store: Path, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XUNCHA_SMTP_PASSWORD", "s3cret-pass")
    inbox = Inbox()
    with smtp_server(
        inbox,
        tls_context=server_tls(certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator(inbox, "s3cret-pass"),
    ) as port:
        config = plain_config(
            port,
            security="starttls",
            ca_file=str(certificate[0]),
            username="xuncha",
            password_env="XUNCHA_SMTP_PASSWORD",
        )
        assert mail.describe(config) == f"邮件服务器 127.0.0.1:{port}（STARTTLS）"
        results = mail.deliver(config, [notice(ZHANG)], store_root=store, user="巡察办甲")
        assert [d.ok for d in results] == [True]
        assert [(r.tls, r.login) for r in inbox.received] == [(True, "xuncha")]

        monkeypatch.setenv("XUNCHA_SMTP_PASSWORD", "wrong")
        (failed,) = mail.deliver(config, [notice(LI)], store_root=store, user="巡察办甲")
    assert not failed.ok and failed.error is not None and "拒绝登录" in failed.error
    assert len(inbox.received) == 1
    assert "s3cret" not in audit.audit_path(store).read_text(encoding="utf-8")


def test_starttls_certificate_is_verified(store: Path, certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls(certificate), require_starttls=True) as port:
        (result,) = mail.deliver(
            plain_config(port, security="starttls"),  # the system's CAs: self-signed not trusted
            [notice(ZHANG)],
            store_root=store,
            user="巡察办甲",
        )
    assert not result.ok and result.error is not None and "证书未通过校验" in result.error
    assert inbox.received == []


def test_starttls_required_but_not_offered_sends_nothing(store: Path) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        (result,) = mail.deliver(
            plain_config(port, security="starttls"),
            [notice(ZHANG)],
            store_root=store,
            user="巡察办甲",
        )
    assert result.error == f"邮件服务器 127.0.0.1:{port}：不支持 STARTTLS，按配置不以明文发送"
    assert inbox.received == []


def test_implicit_tls(store: Path, certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    with smtp_server(inbox, ssl_context=server_tls(certificate)) as port:
        config = plain_config(port, security="ssl", ca_file=str(certificate[0]))
        assert mail.describe(config) == f"邮件服务器 127.0.0.1:{port}（SSL/TLS）"
        (result,) = mail.deliver(config, [notice(ZHANG)], store_root=store, user="巡察办甲")
    assert result.ok
    assert [r.rcpt_tos for r in inbox.received] == [[ZHANG.email]]


# -- configuration --------------------------------------------------------------------------------


def write_config(store: Path, text: str) -> None:
    folder = store / "config"
    folder.mkdir(exist_ok=True)
    (folder / "mail.toml").write_text(text, encoding="utf-8")


def test_no_configuration_means_nothing_is_sent(store: Path) -> None:
    assert mail.smtp_config(store) is None
    assert mail.describe(None) == "未配置邮件服务器：预警提醒不通过邮件发送，收件人登录后查看"


def test_file_is_read_with_defaults(store: Path) -> None:
    write_config(store, 'host = "mail.jw.example.cn"\nsender = "xuncha@jw.example.cn"\n')
    config = mail.smtp_config(store)
    assert config is not None
    assert (config.host, config.port, config.security) == ("mail.jw.example.cn", 25, "starttls")
    assert config.sender_name == "巡察数据驾驶舱"
    assert config.timeout == 30 and config.max_attachment_bytes == 10 * 1024 * 1024
    assert mail.describe(config) == "邮件服务器 mail.jw.example.cn:25（STARTTLS）"


def test_loopback_defaults_to_plain_and_ssl_to_465(store: Path) -> None:
    write_config(store, 'host = "localhost"\nport = 2525\n')
    config = mail.smtp_config(store)
    assert config is not None and config.security == "none"
    assert mail.describe(config) == "邮件服务器 localhost:2525（未加密）"
    write_config(store, 'host = "mail.jw.example.cn"\nsecurity = "ssl"\n')
    config = mail.smtp_config(store)
    assert config is not None and (config.port, config.security) == (465, "ssl")


def test_environment_overrides_and_quick_setup(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XUNCHA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("XUNCHA_SMTP_PORT", "2525")
    config = mail.smtp_config(store)  # no file: the variables alone
    assert config is not None
    assert (config.host, config.port, config.security, config.sender) == (
        "127.0.0.1",
        2525,
        "none",
        "xuncha@localhost",
    )
    write_config(store, 'host = "mail.jw.example.cn"\nport = 587\nsender_name = "市委巡察办"\n')
    config = mail.smtp_config(store)
    assert config is not None
    assert (config.host, config.port, config.sender_name) == ("127.0.0.1", 2525, "市委巡察办")
    monkeypatch.setenv("XUNCHA_SMTP_PORT", "二五")
    with pytest.raises(mail.MailConfigError, match="XUNCHA_SMTP_PORT"):
        mail.smtp_config(store)


def test_port_without_a_host_is_an_error(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_SMTP_PORT", "25")
    with pytest.raises(mail.MailConfigError, match="XUNCHA_SMTP_HOST"):
        mail.smtp_config(store)


@pytest.mark.parametrize("key", ["password", "Password", "smtp_password", "secret"])
def test_a_password_in_the_file_is_refused(store: Path, key: str) -> None:
    write_config(store, f'host = "mail.jw.example.cn"\n{key} = "123456"\n')
    with pytest.raises(mail.MailConfigError) as caught:
        mail.smtp_config(store)
    message = str(caught.value)
    assert "不能在文件中写密码" in message and key in message and "password_env" in message
    assert "123456" not in message


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("port = 25\n", "host"),
        ('host = ""\n', "host"),
        ('host = "mail .example.cn"\n', "host"),
        ('host = "mail.jw.example.cn"\nport = "25"\n', "port"),
        ('host = "mail.jw.example.cn"\nport = 70000\n', "port"),
        ('host = "mail.jw.example.cn"\nport = true\n', "port"),
        ('host = "mail.jw.example.cn"\nsecurity = "tls"\n', "security"),
        ('host = "mail.jw.example.cn"\nsender = "巡察办"\n', "sender"),
        ('host = "mail.jw.example.cn"\nsender = "a@b.cn\\r\\nBcc: c@d.cn"\n', "sender"),
        ('host = "mail.jw.example.cn"\nsender_name = ""\n', "sender_name"),
        ('host = "mail.jw.example.cn"\nsender_name = "a\\nb"\n', "sender_name"),
        ('host = "mail.jw.example.cn"\ntimeout = 0\n', "timeout"),
        ('host = "mail.jw.example.cn"\ntimeout = "30"\n', "timeout"),
        ('host = "mail.jw.example.cn"\nmax_attachment_mb = -1\n', "max_attachment_mb"),
        ('host = "mail.jw.example.cn"\nmax_attachment_mb = nan\n', "max_attachment_mb"),
        ('host = "mail.jw.example.cn"\nhots = "x"\n', "hots"),
        ('host = "mail.jw.example.cn"\n[smtp]\nport = 25\n', "smtp"),
        ('host = "mail.jw.example.cn"\nusername = "xuncha"\n', "password_env"),
        ('host = "mail.jw.example.cn"\npassword_env = "XUNCHA_SMTP_PASSWORD"\n', "username"),
        (
            'host = "mail.jw.example.cn"\nusername = "u"\npassword_env = "NOT-A-NAME"\n',
            "password_env",
        ),
        (
            'host = "mail.jw.example.cn"\nusername = "u"\npassword_env = "XUNCHA_SMTP_PASSWORD"\n',
            "XUNCHA_SMTP_PASSWORD",  # named, but not set
        ),
        ('host = "mail.jw.example.cn"\nca_file = "/nonexistent/ca.pem"\n', "ca_file"),
        ('host = "mail.jw.example.cn"\nsecurity = "none"\nca_file = "/etc/hosts"\n', "ca_file"),
        ('host = "mail.jw.example.cn\n', "TOML"),
    ],
)
def test_malformed_file_names_the_key(store: Path, text: str, named: str) -> None:
    write_config(store, text)
    with pytest.raises(mail.MailConfigError) as caught:
        mail.smtp_config(store)
    message = str(caught.value)
    assert named in message
    assert "邮件配置" in message and str(store / "config" / "mail.toml") in message


def test_login_in_clear_to_another_machine_is_refused(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XUNCHA_SMTP_PASSWORD", "x")
    login = 'username = "u"\npassword_env = "XUNCHA_SMTP_PASSWORD"\nsecurity = "none"\n'
    write_config(store, 'host = "mail.jw.example.cn"\n' + login)
    with pytest.raises(mail.MailConfigError, match="明文"):
        mail.smtp_config(store)
    write_config(store, 'host = "127.0.0.1"\n' + login)  # the loopback: nothing leaves the host
    config = mail.smtp_config(store)
    assert config is not None and config.username == "u"


def test_a_password_smtplib_cannot_send_is_refused(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XUNCHA_SMTP_PASSWORD", "口令123")
    write_config(
        store,
        'host = "mail.jw.example.cn"\nusername = "u"\npassword_env = "XUNCHA_SMTP_PASSWORD"\n',
    )
    with pytest.raises(mail.MailConfigError, match=r"XUNCHA_SMTP_PASSWORD.*非 ASCII") as caught:
        mail.smtp_config(store)
    assert "口令" not in str(caught.value)


def test_the_configuration_holds_no_password(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNCHA_SMTP_PASSWORD", "s3cret-pass")
    write_config(
        store,
        'host = "mail.jw.example.cn"\nusername = "u"\npassword_env = "XUNCHA_SMTP_PASSWORD"\n',
    )
    config = mail.smtp_config(store)
    assert config is not None and config.password_env == "XUNCHA_SMTP_PASSWORD"
    assert "s3cret" not in repr(config)
    assert "s3cret" not in repr(vars(config))


def test_config_from_toml_checks_text_before_saving() -> None:
    config = mail.config_from_toml('host = "10.1.2.3"\nport = 587\n', "草稿")
    assert mail.describe(config) == "邮件服务器 10.1.2.3:587（STARTTLS）"
    with pytest.raises(mail.MailConfigError, match="草稿"):
        mail.config_from_toml("host = ", "草稿")


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("zhangsan@czj.example.cn", True),
        ("zhang.san+notice@mail.czj.gov.cn", True),
        ("xuncha@localhost", True),
        ("", False),
        ("zhangsan", False),
        ("zhangsan@", False),
        ("@czj.example.cn", False),
        ("zhang san@czj.example.cn", False),
        ("zhangsan@czj..cn", False),
        (".zhangsan@czj.cn", False),
        ("zhangsan@-czj.cn", False),
        ("张三@czj.example.cn", False),
        ("a@b.cn\r\nBcc: c@d.cn", False),
        ("a@b.cn,c@d.cn", False),
    ],
)
def test_valid_email(address: str, valid: bool) -> None:
    assert mail.valid_email(address) is valid

"""A small SMTP submission server for the tests, started by scripts/mail-servers.sh.

aiosmtpd on 127.0.0.1: AUTH PLAIN/LOGIN is required before MAIL; a wrong password gets 535,
a recipient that is not a local user 550. Every accepted message is delivered over LMTP to
Dovecot, which files it in the INBOX.

Without --tls it speaks plain text (loopback only); with --tls CERT KEY it speaks TLS from
the first byte ("smtps", as on port 465) with that certificate chain and key (PEM), and no
STARTTLS. --host, which may be repeated, sets the addresses to listen on (127.0.0.1 when not
given; scripts/mail-servers.sh adds ::1 for smtps://localhost), all on the same port.

Usage: mail-smtp.py --port PORT --lmtp-port PORT --users FILE [--tls CERT KEY] [--host ADDR]...
FILE has a line NAME:PASSWORD:ADDRESS per user (a file, so passwords stay off command lines).
"""

import argparse
import asyncio
import logging
import signal
import smtplib
import ssl
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# The name in greetings (ours, and our LHLO to Dovecot): given, so that neither side asks
# a resolver for the machine's FQDN (the tests send nothing beyond loopback).
HOSTNAME = "localhost"

# AUTH without TLS is the point of the plain server (loopback only): no warning about it on
# every connection, nor about the deprecated field aiosmtpd itself sets on every login. (The
# TLS server needs auth_require_tls=False too: aiosmtpd counts only STARTTLS as TLS, and would
# neither offer nor accept AUTH inside implicit TLS.)
warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").addFilter(
    lambda record: not any(s in record.getMessage() for s in ("auth_require_tls", "login_data"))
)


class Users:
    def __init__(self, path):
        self.passwords = {}  # login (name or address) -> password
        self.addresses = set()
        with open(path, encoding="utf-8") as f:
            specs = [line.strip() for line in f if line.strip()]
        for spec in specs:
            name, password, address = spec.split(":", 2)
            self.passwords[name.lower()] = self.passwords[address.lower()] = password
            self.addresses.add(address.lower())

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.passwords.get(auth_data.login.decode("utf-8", "replace").lower())
            == auth_data.password.decode("utf-8", "replace")
        )
        # handled=False: aiosmtpd answers (235, or 535 on a wrong password) itself.
        return AuthResult(success=ok, handled=False)


class Handler:
    def __init__(self, users, lmtp_port):
        self.users = users
        self.lmtp_port = lmtp_port

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() not in self.users.addresses:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.deliver, envelope)
        except (OSError, smtplib.SMTPException) as e:
            print(f"mail-smtp: LMTP delivery failed: {e!r}", flush=True)
            return "451 4.3.0 Delivery to the mailbox failed"
        print(f"mail-smtp: delivered from {envelope.mail_from} to {envelope.rcpt_tos}", flush=True)
        return "250 OK delivered"

    def deliver(self, envelope):
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, local_hostname=HOSTNAME, timeout=30) as lmtp:
            # One transaction per recipient: LMTP answers DATA once per recipient, and smtplib
            # reads a single answer (the next would be taken for the answer to QUIT).
            for rcpt in envelope.rcpt_tos:
                lmtp.sendmail(envelope.mail_from, [rcpt], envelope.original_content)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lmtp-port", type=int, required=True)
    parser.add_argument("--users", required=True)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--host", action="append")
    args = parser.parse_args()

    users = Users(args.users)
    handler = Handler(users, args.lmtp_port)
    tls = None
    if args.tls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(*args.tls)
    # One controller (a thread with its own event loop) per address, all on the same port.
    controllers = [
        Controller(
            handler,
            hostname=host,
            port=args.port,
            ssl_context=tls,
            server_hostname=HOSTNAME,
            authenticator=users.authenticator,
            auth_required=True,
            auth_require_tls=False,
        )
        for host in args.host or ["127.0.0.1"]
    ]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for controller in controllers:
        controller.start()
        kind = "TLS" if tls else "plain"
        print(f"mail-smtp: listening ({kind}) on {controller.hostname} port {args.port}", flush=True)
    stop.wait()
    for controller in controllers:
        controller.stop()


if __name__ == "__main__":
    main()

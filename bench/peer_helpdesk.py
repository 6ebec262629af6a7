"""The peer side of `bench/peer.py`: django-helpdesk's own email import, in its own virtualenv.

Run by bench/peer.py with the peer virtualenv's Python (it never imports intake):

    python peer_helpdesk.py setup DB            migrate a fresh SQLite database, add one queue
    python peer_helpdesk.py import DB DIR PORT  import each file in DIR; mail to 127.0.0.1:PORT

`import` does, message by message, what django-helpdesk's `get_email` management command does for
a queue whose mailbox is a local directory (`helpdesk.email.process_queue`, email_box_type
"local"): read the file, `force_str` it, `extract_email_metadata(message, queue, logger)`. The one
difference: an exception from a message is caught and counted here, where the command's loop
would stop at it and leave every later message unread until someone removed it, so the peer is
measured on all the messages rather than on those before its first crash. It prints one JSON
object: per-file outcome ("ticket", "followup", "ignored", "none" or "crash: <error>"), ticket and
follow-up counts, and the CPU seconds of the import loop alone (`time.process_time`, after Django
has started).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

QUEUE_ADDRESS = "referrals@advocacy.example.org"


def configure(db: str, relay_port: int = 25) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="peer-bench-" + "x" * 40,
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        SITE_ID=1,
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.sites",
            "django.contrib.humanize",
            "rest_framework",
            "helpdesk",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        ROOT_URLCONF="peer_helpdesk",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=relay_port,
        DEFAULT_FROM_EMAIL=QUEUE_ADDRESS,
        LOGGING_CONFIG=None,
        # Teams need pinax-teams, which a small charity's single queue has no use for
        HELPDESK_TEAMS_MODE_ENABLED=False,
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    django.setup()


def __getattr__(name: str) -> Any:
    # Django reads `urlpatterns` from ROOT_URLCONF only after setup, so it is built on demand:
    # helpdesk builds ticket links in its emails with reverse("helpdesk:...").
    if name == "urlpatterns":
        from django.urls import include, path

        return [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
    raise AttributeError(name)


def setup(db: str) -> None:
    configure(db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from helpdesk.models import Queue

    Queue.objects.create(
        title="Referrals",
        slug="referrals",
        email_address=QUEUE_ADDRESS,
        allow_email_submission=True,
        email_box_type="local",
        email_box_local_dir="/nonexistent",
        email_box_interval=0,
    )


def import_dir(db: str, directory: str, relay_port: int) -> dict[str, Any]:
    configure(db, relay_port)
    from django.utils import encoding
    from helpdesk import email as helpdesk_email
    from helpdesk.exceptions import DeleteIgnoredTicketException, IgnoreTicketException
    from helpdesk.models import FollowUp, Queue, Ticket

    queue = Queue.objects.get(slug="referrals")
    logger = logging.getLogger("django.helpdesk.queue.referrals")
    logger.handlers, logger.propagate = [], False
    outcomes: dict[str, str] = {}
    began = time.process_time()
    for name in sorted(os.listdir(directory)):
        tickets_before = Ticket.objects.count()
        try:
            # as get_email reads it: text in the locale's encoding, so 8-bit mail can fail here
            with open(os.path.join(directory, name)) as f:
                full_message = encoding.force_str(f.read(), errors="replace")
            ticket = helpdesk_email.extract_email_metadata(
                message=full_message, queue=queue, logger=logger
            )
        except (IgnoreTicketException, DeleteIgnoredTicketException):
            outcomes[name] = "ignored"
            continue
        except Exception as exc:  # what would have stopped get_email's loop
            outcomes[name] = f"crash: {type(exc).__name__}: {str(exc)[:120]}"
            continue
        if not ticket:
            outcomes[name] = "none"
        else:
            outcomes[name] = "ticket" if Ticket.objects.count() > tickets_before else "followup"
    cpu = time.process_time() - began
    return {
        "outcomes": outcomes,
        "tickets": Ticket.objects.count(),
        "followups": FollowUp.objects.count(),
        "import_cpu_s": round(cpu, 3),
    }


def main(argv: list[str]) -> int:
    if argv[0] == "setup":
        setup(argv[1])
        return 0
    if argv[0] == "import":
        print(json.dumps(import_dir(argv[1], argv[2], int(argv[3]))))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

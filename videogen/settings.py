"""Settings for videogen, read from the environment (and an optional .env file).

Every variable is listed with its default in .env.example and README.md. With no environment at
all the app runs in DEBUG on SQLite, the django-q2 ORM broker and the built-in Runway simulator.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
else:
    SECRET_KEY = env("SECRET_KEY", default="")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "projects",
    "generation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "videogen.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # 400 for a body in a charset the form parsers cannot read, before anything reads it.
    "projects.request_size.RequestCharsetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Audit entries written while handling a request say which address it came from.
    "generation.audit.AuditSourceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Runs before anything reads the body (CSRF reads it only in process_view).
    "projects.request_size.RequestSizeLimitMiddleware",
]

ROOT_URLCONF = "videogen.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "generation.context_processors.runway",
            ],
        },
    },
]

WSGI_APPLICATION = "videogen.wsgi.application"

# SQLite is the zero-setup default. The web process and qcluster share it, so writers wait
# (timeout) instead of failing, and every transaction takes the write lock up front (IMMEDIATE)
# so that a read-then-write inside one transaction cannot interleave with another writer.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            # WAL lets readers (pages, the poller) go on while a worker writes.
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )
    # Tests use a file (not :memory:) so that threads, qcluster and simulator processes share it.
    DATABASES["default"]["TEST"] = {
        "NAME": env("TEST_DATABASE_NAME", default=str(BASE_DIR / ".test-db.sqlite3"))
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in and share-link guessing are throttled per username and per address (projects/throttle.py).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)
SHARE_LINK_MISS_LIMIT = env.int("SHARE_LINK_MISS_LIMIT", default=20)
SHARE_LINK_MISS_WINDOW = env.int("SHARE_LINK_MISS_WINDOW", default=600)
# Password reset requests per email address typed (four times that per client address) and window.
PASSWORD_RESET_LIMIT = env.int("PASSWORD_RESET_LIMIT", default=3)
PASSWORD_RESET_WINDOW = env.int("PASSWORD_RESET_WINDOW", default=3600)
# Comments, decisions and names sent from share pages, per address and window (seconds).
REVIEW_POST_LIMIT = env.int("REVIEW_POST_LIMIT", default=30)
REVIEW_POST_WINDOW = env.int("REVIEW_POST_WINDOW", default=600)

# How many proxies stand in front of the app, each appending to X-Forwarded-For: throttles count the
# address the outermost of them saw (projects/throttle.py client_ip). 0: REMOTE_ADDR is the client.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Media goes through Django's storage API only, so an S3-compatible bucket works by settings alone.
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default=None)
    AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default=None)
    AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default=None)
    AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", default=None)
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    AWS_S3_FILE_OVERWRITE = False
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage"
        if AWS_STORAGE_BUCKET_NAME
        else "django.core.files.storage.FileSystemStorage"
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Uploaded files are kept in memory up to this size, then spooled to disk: 50 files of a few MB
# each would otherwise all sit in the web worker's memory at once.
DATA_UPLOAD_MAX_NUMBER_FILES = 50
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
REFERENCE_IMAGE_MAX_BYTES = env.int("REFERENCE_IMAGE_MAX_BYTES", default=40 * 1024 * 1024)
REFERENCE_IMAGE_MAX_PIXELS = env.int("REFERENCE_IMAGE_MAX_PIXELS", default=40_000_000)
# Pixels one upload may decode, counted from each file's header: the files past it are refused,
# named, to be sent again, so that one request stays well within a web worker's timeout (about
# 1 s per 40-megapixel photo on 2 cores: bench/upload_memory.py).
REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST = env.int(
    "REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST", default=10 * REFERENCE_IMAGE_MAX_PIXELS
)
# Any request body above this is refused with 413 before it is read (projects/request_size.py): room
# for five full-size reference images in one upload, plus the form around them.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=5 * REFERENCE_IMAGE_MAX_BYTES + 1024 * 1024)
# The limit for anyone not signed in (sign-in, password reset, share pages): their forms are short,
# the longest a share-page comment of 2000 four-byte characters, 24 KB when sent.
ANONYMOUS_MAX_REQUEST_BYTES = env.int("ANONYMOUS_MAX_REQUEST_BYTES", default=64 * 1024)

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="videogen@localhost")
# Extra addresses for admin mail (reconciliation alerts; with DEBUG off, also Django's error mail).
ADMINS = [("", address) for address in env.list("ADMINS", default=[])]

# In a parallel test run each pytest-xdist worker (PYTEST_XDIST_WORKER: gw0, gw1, ...) has its own
# test database (pytest-django adds the id to its name) and, here, its own queue and cache keys, so
# that no worker's qcluster runs another's tasks against the wrong database. The id is added once:
# the processes a test starts inherit the variable and may be given the name already suffixed.
TEST_WORKER = env("PYTEST_XDIST_WORKER", default="")
_q_name = env("Q_NAME", default="videogen")
if TEST_WORKER and not _q_name.endswith(f"-{TEST_WORKER}"):
    _q_name = f"{_q_name}-{TEST_WORKER}"
# Background work: django-q2. The ORM broker needs nothing installed; REDIS_URL switches to Redis.
# `retry` must exceed `timeout` (and the longest task: a download or an assembly), or a slow task
# is handed to a second worker while the first still runs.
Q_CLUSTER = {
    "name": _q_name,
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=900),
    "retry": env.int("Q_RETRY", default=1200),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=3),
    "ack_failures": True,
    "save_limit": 500,
    "catch_up": False,
    "poll": 0.2,
    "label": "Background tasks",
}
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# The worker supervisor (`manage.py workers`, generation/supervisor.py) pings the queue every
# WORKER_PING_INTERVAL s; a ping unanswered for WORKER_PING_TIMEOUT s while one of its workers sits
# idle means the pool is wedged, and the cluster is killed and started again. Stopping, the cluster
# has WORKER_STOP_SECONDS to finish its tasks before it is killed.
WORKER_PING_INTERVAL = env.float("WORKER_PING_INTERVAL", default=10.0)
WORKER_PING_TIMEOUT = env.float("WORKER_PING_TIMEOUT", default=20.0)
WORKER_STOP_SECONDS = env.float("WORKER_STOP_SECONDS", default=10.0)
# The cache holds throttling counters; Redis shares them between web processes.
CACHE_URL = env("CACHE_URL", default=REDIS_URL)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CACHES["default"]["KEY_PREFIX"] = TEST_WORKER
# How long the sequence page keeps its rendered shot list and takes, and the share page its comment
# threads (projects/page_cache.py); they are kept under a digest of their rows, so this only bounds
# how long old markup outlives a deploy. 0 renders them on every request.
SEQUENCE_PAGE_CACHE_SECONDS = env.int("SEQUENCE_PAGE_CACHE_SECONDS", default=600)
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_RETRY must be greater than Q_TIMEOUT.")

# Runway. Without RUNWAY_API_KEY the app talks to the built-in simulator (generation/simulator),
# which `make run` starts on RUNWAY_SIMULATOR_PORT; the code path is the same, only URL and key differ.
RUNWAY_API_KEY = env("RUNWAY_API_KEY", default="")
RUNWAY_SIMULATED = not RUNWAY_API_KEY
# With DEBUG off and no key, the studio, the workers and the simulator refuse to start unless
# simulation is asked for: a deployment that lost its key must not quietly fake Runway.
RUNWAY_SIMULATE = env.bool("RUNWAY_SIMULATE", default=False)
RUNWAY_SIMULATOR_PORT = env.int("RUNWAY_SIMULATOR_PORT", default=8001)
if RUNWAY_SIMULATED:
    # Any key of Runway's shape is accepted by the simulator.
    RUNWAY_API_KEY = "key_" + "0" * 128
    RUNWAY_API_BASE = env("RUNWAY_API_BASE", default=f"http://127.0.0.1:{RUNWAY_SIMULATOR_PORT}")
else:
    RUNWAY_API_BASE = env("RUNWAY_API_BASE", default="https://api.dev.runwayml.com")
RUNWAY_SIMULATOR_FAST = env.bool("RUNWAY_SIMULATOR_FAST", default=False)
# Guards the simulator's /_simulator/* control endpoints (reset, faults); empty makes a random one.
RUNWAY_SIMULATOR_CONTROL_TOKEN = env("RUNWAY_SIMULATOR_CONTROL_TOKEN", default="")
RUNWAY_MODEL = env("RUNWAY_MODEL", default="gen4_turbo")
# Runway asks clients not to poll a task more often than every 5 s.
RUNWAY_POLL_INTERVAL = env.float("RUNWAY_POLL_INTERVAL", default=5.0)
# Runway asks for polls of a task 5 s or more apart (runway-api.md sections 5 and 9): with a key, a
# take is never polled sooner, whatever RUNWAY_POLL_INTERVAL says. Lower it only against a
# simulator that stands in for Runway with a key (the tests do).
RUNWAY_MIN_POLL_SECONDS = env.float("RUNWAY_MIN_POLL_SECONDS", default=5.0)
# Used when /v1/organization gives no per-model concurrency.
RUNWAY_MAX_CONCURRENCY = env.int("RUNWAY_MAX_CONCURRENCY", default=2)
RUNWAY_CONNECT_TIMEOUT = env.float("RUNWAY_CONNECT_TIMEOUT", default=5.0)
RUNWAY_READ_TIMEOUT = env.float("RUNWAY_READ_TIMEOUT", default=60.0)
RUNWAY_MAX_RETRIES = env.int("RUNWAY_MAX_RETRIES", default=4)
# How many automatic new takes a shot gets after INTERNAL.* failures.
RUNWAY_INTERNAL_RETAKES = env.int("RUNWAY_INTERNAL_RETAKES", default=2)
FFMPEG_BINARY = env("FFMPEG_BINARY", default="")
# A worker's lease on what it claimed (a submission, a download, an assembly, a master join): it
# renews the lease every third of its length while it works (generation/leases.py), so a dead
# worker's work is taken over within one lease plus one recovery sweep.
PIPELINE_LEASE_SECONDS = env.int("PIPELINE_LEASE_SECONDS", default=60)
# Run pipeline tasks in-process instead of through the queue (the image2video command does).
PIPELINE_INLINE = env.bool("PIPELINE_INLINE", default=False)
# How often the poller looks for work whose worker died.
PIPELINE_RECOVER_INTERVAL = env.float("PIPELINE_RECOVER_INTERVAL", default=10.0)
# How often a take waiting for Runway's daily limit asks again, seconds (generation/pipeline.py).
RUNWAY_DAILY_LIMIT_RECHECK = env.float("RUNWAY_DAILY_LIMIT_RECHECK", default=600.0)
# Where the font for burned-in captions is (a folder of .ttf files; Debian's fonts-dejavu-core).
CAPTION_FONTS_DIR = env("CAPTION_FONTS_DIR", default="/usr/share/fonts/truetype/dejavu")
# Reconciliation with Runway's usage report (generation/reconcile.py): how many UTC days back each
# run checks, and the difference in credits per day and model above which admins are mailed.
RECONCILE_DAYS = env.int("RECONCILE_DAYS", default=7)
RECONCILE_ALERT_CREDITS = env.int("RECONCILE_ALERT_CREDITS", default=0)
# Credit alerts (generation/alerts.py): the percentages of a user's month or a project's cap at
# which its owners are mailed, each once per month.
CREDIT_ALERT_LEVELS = env.list("CREDIT_ALERT_LEVELS", cast=int, default=[80, 100])

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # A year, the figure browsers' preload lists ask for; 0 turns HSTS off (while trying HTTPS out).
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    # Only the deployment knows whether every subdomain is HTTPS-only.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Share-link tokens are cut to four characters and 4xx responses logged without a traceback
# (videogen/log_filters.py). The filters sit on the loggers that name request paths, so that every
# handler (the console, Django's admin mail, a test's capture) receives the record already rewritten.
_REQUEST_LOG_FILTERS = ["redact_share_tokens", "one_line_client_errors"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_share_tokens": {"()": "videogen.log_filters.RedactShareTokens"},
        "one_line_client_errors": {"()": "videogen.log_filters.OneLineClientErrors"},
        "quiet_pings": {"()": "videogen.log_filters.QuietPings"},
    },
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_share_tokens"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "urllib3": {"level": "WARNING"},
        "django-q": {"filters": ["quiet_pings"]},
        "django.request": {"filters": _REQUEST_LOG_FILTERS},
        "django.security.csrf": {"filters": _REQUEST_LOG_FILTERS},
        # runserver's access log, as Django configures it, with the tokens cut.
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_share_tokens"],
        },
    },
}

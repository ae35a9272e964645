# The one image of « Fabriques de territoires ». docker-compose.yml runs it as the web process
# (gunicorn), the Celery workers (one service per queue: default, pdf, email, reports), Celery beat
# and the one-shot migrate step, with different commands.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    DJANGO_SETTINGS_MODULE=config.settings.production

# WeasyPrint's system libraries: Pango (text layout), HarfBuzz and its subsetter (fonts embedded in
# the PDFs), the fonts the PDF templates fall back on, the MIME database, and libmagic, which
# checks uploaded files by their content. postgresql-client (version 15 in bookworm, as the db
# service) gives `manage.py backup` and `restore` their pg_dump and pg_restore.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends \
        postgresql-client \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
        libmagic1 \
        libharfbuzz0b \
        fonts-dejavu-core \
        fonts-liberation \
        shared-mime-info \
    && rm -rf /var/lib/apt/lists/*

# The processes run as an unprivileged user; the code stays owned by root, hence read-only to them.
RUN groupadd --system --gid 10001 fabriques \
    && useradd --system --uid 10001 --gid fabriques --create-home --home-dir /home/fabriques \
        --shell /usr/sbin/nologin fabriques

WORKDIR /app

COPY requirements.txt ./
RUN python -m pip install --no-cache-dir -r requirements.txt

# The code is copied path by path, so that nothing else of the build context (.env, .venv,
# db.sqlite3, media/) can end up in the image. A new Django app needs its line here
# (tests/test_deployment_files.py checks it).
COPY manage.py ./
COPY config ./config
COPY core ./core
COPY accounts ./accounts
COPY fabriques ./fabriques
COPY applications ./applications
COPY grants ./grants
COPY allocation ./allocation
COPY retention ./retention
COPY notifications ./notifications
COPY api ./api
COPY templates ./templates
COPY locale ./locale
COPY static ./static

# Static files are collected into the image (served by WhiteNoise). The production settings refuse
# to load without their secrets: the values below exist for this RUN only, are never used at run
# time and contact nothing (no database, broker or mail server is reached by collectstatic).
RUN DJANGO_SECRET_KEY=build-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build:build@127.0.0.1:5432/build \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \
    EMAIL_URL=consolemail:// \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/media /var/lib/celerybeat \
    && chown fabriques:fabriques /app/media /var/lib/celerybeat

# Named volumes mounted on these two folders inherit their owner on first use.
USER 10001:10001

EXPOSE 8000

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "5", "--timeout", "60", "--graceful-timeout", "30", "--worker-tmp-dir", "/dev/shm", "--no-control-socket", "--access-logfile", "-", "--error-logfile", "-"]

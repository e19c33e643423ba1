# Lead Navigator: one image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# A fixed uid/gid, so files in the media volume keep one owner across rebuilds.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .

# Static files are part of the image (WhiteNoise serves them with hashed names). The values below
# exist only so the production settings import during the build: no secret is baked into a layer.
RUN DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_SECRET_KEY=collectstatic-at-build-time-only-not-a-secret \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    REDIS_URL=redis://localhost:6379/0 \
    LEADNAV_VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput \
 && rm -rf /tmp/build-var /tmp/build.sqlite3 \
 && mkdir -p /app/var/media \
 && chown -R app:app /app/var

ENV DJANGO_SETTINGS_MODULE=config.settings.production \
    LEADNAV_VAR_DIR=/app/var \
    DJANGO_MEDIA_ROOT=/app/var/media

USER app
EXPOSE 8000

CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--timeout", "600", \
     "--access-logfile", "-", "--no-control-socket"]

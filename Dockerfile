FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 1000 app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir -e .
COPY . .
# Static files are gathered with the production storage (hashed names, manifest); the real
# secret arrives at run time, this one only lets the settings import.
RUN DJANGO_ENV=production SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
    && chown -R app:app /app
USER app
EXPOSE 8000
CMD ["gunicorn", "privacy_site.wsgi:application", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000"]

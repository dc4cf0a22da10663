# Multi-stage image for every engine process (web, worker, scheduler, simulator, release).
FROM node:20-bookworm-slim AS webapp
WORKDIR /build/webapp
COPY webapp/package.json webapp/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY webapp/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY server/ server/
COPY workers/ workers/
COPY migrations/ migrations/
COPY Procfile ./
COPY --from=webapp /build/webapp/dist webapp/dist
RUN useradd --create-home engine && mkdir -p /app/var && chown engine /app/var
USER engine
EXPOSE 5000
CMD ["gunicorn", "-k", "gevent", "-w", "1", "--no-control-socket", "-b", "0.0.0.0:5000", "server.wsgi:app"]

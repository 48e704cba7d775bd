# Offline stand-in for the official postgres image (which no reachable registry serves):
# Debian bookworm's PostgreSQL 15, user postgres with uid/gid 999 like the official image,
# and an entrypoint that honours the same variables the chart sets (POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB, PGDATA): initdb on an empty PGDATA, then `postgres`.
# Built by tests/infra/kind/e2e.sh as localhost/kind-offline/postgres:15-bookworm.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN groupadd -r -g 999 postgres \
 && useradd -r -g postgres -u 999 -d /var/lib/postgresql -s /bin/bash postgres \
 && mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/run/postgresql /var/lib/postgresql/data \
 && chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER 999
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]

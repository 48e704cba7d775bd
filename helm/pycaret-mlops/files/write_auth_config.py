"""Write MLflow's basic-auth ini (MLFLOW_AUTH_CONFIG_PATH) from the environment.

Runs as an init container of the tracking server, into an in-memory emptyDir, so that the
database password never sits in a ConfigMap. The auth tables share the tracking database
(their own alembic version table, alembic_version_auth).

Env: MLFLOW_AUTH_CONFIG_PATH, AUTH_DEFAULT_PERMISSION, MLFLOW_AUTH_ADMIN_USERNAME,
MLFLOW_AUTH_ADMIN_PASSWORD, and either TRACKING_BACKEND_STORE_URI or TRACKING_DB_HOST,
TRACKING_DB_PORT, TRACKING_DB_NAME, TRACKING_DB_USER, TRACKING_DB_PASSWORD.
"""

import os
import sys
from urllib.parse import quote


def database_uri(env) -> str:
    if env.get("TRACKING_BACKEND_STORE_URI"):
        return env["TRACKING_BACKEND_STORE_URI"]
    user = quote(env["TRACKING_DB_USER"], safe="")
    password = quote(env["TRACKING_DB_PASSWORD"], safe="")
    name = quote(env.get("TRACKING_DB_NAME", "mlflow"), safe="")
    return (
        f"postgresql+psycopg2://{user}:{password}@{env['TRACKING_DB_HOST']}:"
        f"{env.get('TRACKING_DB_PORT', '5432')}/{name}"
    )


def render(env) -> str:
    # MLflow reads the file with configparser's default interpolation: '%' must be doubled.
    def value(v: str) -> str:
        if "\n" in v or "\r" in v:
            raise ValueError("auth config values must be single lines")
        return v.replace("%", "%%")

    lines = [
        "[mlflow]",
        f"default_permission = {value(env.get('AUTH_DEFAULT_PERMISSION', 'READ'))}",
        f"database_uri = {value(database_uri(env))}",
        f"admin_username = {value(env['MLFLOW_AUTH_ADMIN_USERNAME'])}",
        f"admin_password = {value(env['MLFLOW_AUTH_ADMIN_PASSWORD'])}",
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    path = os.environ["MLFLOW_AUTH_CONFIG_PATH"]
    try:
        text = render(os.environ)
    except (KeyError, ValueError) as err:
        print(f"auth-config: missing or invalid setting: {err}", file=sys.stderr)
        return 1
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    print(f"auth-config: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The home page: 200 with what it read from the database, 503 when it cannot reach it."""
import html

from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpResponse


def home(request):
    try:
        with connection.cursor() as cur:
            cur.execute('SHOW server_version')
            version = cur.fetchone()[0]
        admins = get_user_model().objects.filter(is_superuser=True).count()
    except Exception as e:  # noqa: BLE001 - the page says the database is not there, whatever the reason
        return HttpResponse(f'<p>The database is not reachable yet ({html.escape(type(e).__name__)}).</p>\n', status=503)
    db = connection.settings_dict
    return HttpResponse(
        '<!doctype html><title>Acme Django</title>\n'
        '<h1>Hello from your Acme Django droplet!</h1>\n'
        f'<p>Database OK: PostgreSQL {html.escape(version)}, database <code>{html.escape(db["NAME"])}</code> '
        f'on {html.escape(db["HOST"])}, {admins} admin user(s). Admin: <a href="/admin/">/admin/</a></p>\n'
    )

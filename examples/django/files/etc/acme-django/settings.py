# Acme Django: this droplet's own settings, read by /srv/acme-django/acmesite/settings.py.
# A template ($.files.templates): first boot writes in the droplet's public IPv4 and the secrets
# generator-mpimg made for it ($.secrets; also in /root/.digitalocean_passwords). The folder is
# root:django 0750 ($.directories): only root and the app read it.
SECRET_KEY = '{{secret.DJANGO_SECRET_KEY}}'
ALLOWED_HOSTS = ['{{ip}}', 'localhost', '127.0.0.1']

# The local PostgreSQL. A managed database handed over at first boot replaces it: first-boot/
# 10-django.sh writes managed-database.json beside this file.
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'HOST': '127.0.0.1',
        'PORT': '5432',
        'NAME': 'acme_django',
        'USER': 'django',
        'PASSWORD': '{{secret.DJANGO_DB_PASSWORD}}',
    }
}

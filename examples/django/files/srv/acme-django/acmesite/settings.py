"""Acme Django's settings. What differs per droplet (the secret key, the address, the database) is in
/etc/acme-django/, filled in at first boot; nothing secret is in this folder or in the image."""
import json
import runpy
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

ETC = Path('/etc/acme-django')

_droplet = runpy.run_path(str(ETC / 'settings.py'))
SECRET_KEY = _droplet['SECRET_KEY']
if SECRET_KEY.startswith('{{'):
    raise ImproperlyConfigured(f'{ETC}/settings.py is not filled in yet: the first boot of the droplet does it')
ALLOWED_HOSTS = _droplet['ALLOWED_HOSTS']
DATABASES = _droplet['DATABASES']

_managed = ETC / 'managed-database.json'
if _managed.exists():
    # A DigitalOcean managed PostgreSQL database, handed over at first boot: TLS only.
    db = json.loads(_managed.read_text())
    DATABASES['default'].update(
        HOST=db['host'], PORT=db['port'], NAME=db['name'], USER=db['user'], PASSWORD=db['password'],
        OPTIONS={'sslmode': 'require'},
    )

DEBUG = False
INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
]
MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
    'django.middleware.clickjacking.XFrameOptionsMiddleware',
]
ROOT_URLCONF = 'acmesite.urls'
TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'APP_DIRS': True,
        'OPTIONS': {
            'context_processors': [
                'django.template.context_processors.request',
                'django.contrib.auth.context_processors.auth',
                'django.contrib.messages.context_processors.messages',
            ],
        },
    },
]
WSGI_APPLICATION = 'acmesite.wsgi.application'
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'
USE_TZ = True
# The admin's CSS and scripts: nginx serves Debian's copy under /static/admin/ (no collectstatic).
STATIC_URL = '/static/'

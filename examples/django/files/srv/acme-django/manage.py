#!/usr/bin/env python3
"""Acme Django's management commands: `runuser -u django -- /srv/acme-django/manage.py migrate`."""
import os
import sys

if __name__ == '__main__':
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'acmesite.settings')
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Droplet } from './droplet.js';

/**
 * A "managed PostgreSQL database" for a droplet, as DigitalOcean attaches one: a second PostgreSQL
 * server (the image's own binaries) on 127.0.0.1:5433 that takes TLS connections only from the
 * network, started by systemd before cloud-init's final stage, and DigitalOcean's hand-over file
 * naming it (db_protocol="postgresql").
 */
export const MANAGED_PG_UNIT = 'mpimg-e2e-managed-pg.service';
/** The fixture's socket folder: root reaches it as postgres (peer) there, e.g. `psql -h DIR -p 5433`. */
export const MANAGED_PG_SOCKETS = '/run/mpimg-e2e-managed-pg';
export const MANAGED_PG_PORT = 5433;

export function managedPostgres(d: Droplet, password: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(password)) throw new Error('the fixture password must be [A-Za-z0-9_-]');
  const dir = '/var/lib/mpimg-e2e-managed-pg';
  const bin = 'bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)';
  d.write(
    'etc/mpimg-e2e/managed-pg/init.sh',
    `set -eu
${bin}
mkdir -p ${dir}-tls
if [ ! -f ${dir}-tls/key.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=managed-pg.e2e -keyout ${dir}-tls/key.pem -out ${dir}-tls/cert.pem 2>/dev/null
  chown postgres ${dir}-tls/key.pem
  chmod 0600 ${dir}-tls/key.pem
fi
if [ ! -f ${dir}/PG_VERSION ]; then
  install -d -m 0700 -o postgres -g postgres ${dir}
  runuser -u postgres -- "$bin/initdb" -D ${dir} -U postgres --auth-local=peer --auth-host=scram-sha-256 > /dev/null
  # TLS only over the network, as DigitalOcean's managed databases take them.
  printf 'local all all peer\\nhostssl all all 127.0.0.1/32 scram-sha-256\\n' > ${dir}/pg_hba.conf
fi
`,
  );
  d.write(
    'etc/mpimg-e2e/managed-pg/start.sh',
    `set -eu
${bin}
exec "$bin/postgres" -D ${dir} -p ${MANAGED_PG_PORT} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${MANAGED_PG_SOCKETS} -c ssl=on -c ssl_cert_file=${dir}-tls/cert.pem -c ssl_key_file=${dir}-tls/key.pem
`,
  );
  d.write(
    'etc/mpimg-e2e/managed-pg/users.sql',
    `SELECT 'CREATE ROLE doadmin LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'doadmin') \\gexec
ALTER ROLE doadmin WITH LOGIN PASSWORD '${password}';
SELECT 'CREATE DATABASE defaultdb OWNER doadmin' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'defaultdb') \\gexec
`,
    0o600,
  );
  d.write(
    `etc/systemd/system/${MANAGED_PG_UNIT}`,
    `[Unit]
Description=e2e test bed: a managed database (PostgreSQL on 127.0.0.1:${MANAGED_PG_PORT}, TLS only)
# After the boot's own file system setup; before the first-boot steps that use it.
After=network.target local-fs.target systemd-tmpfiles-setup.service
Before=cloud-final.service

[Service]
Type=notify
User=postgres
RuntimeDirectory=mpimg-e2e-managed-pg
# "+": as root (the data folder, and the users through postgres's socket login)
ExecStartPre=+/bin/sh /etc/mpimg-e2e/managed-pg/init.sh
ExecStart=/bin/sh /etc/mpimg-e2e/managed-pg/start.sh
ExecStartPost=+/bin/sh -c 'runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -h ${MANAGED_PG_SOCKETS} -p ${MANAGED_PG_PORT} -d postgres < /etc/mpimg-e2e/managed-pg/users.sql'

[Install]
WantedBy=multi-user.target
`,
  );
  const wants = d.path('etc/systemd/system/multi-user.target.wants');
  mkdirSync(wants, { recursive: true });
  symlinkSync(`/etc/systemd/system/${MANAGED_PG_UNIT}`, join(wants, MANAGED_PG_UNIT));
  d.write(
    'root/.digitalocean_dbaas_credentials',
    `db_protocol="postgresql"\ndb_username="doadmin"\ndb_password="${password}"\ndb_host="127.0.0.1"\ndb_port="${MANAGED_PG_PORT}"\ndb_database="defaultdb"\n`,
    0o600,
  );
}

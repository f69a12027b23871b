<?php
// Acme LAMP: a page that answers 200 once it reached the database, 503 when it cannot.
// How to reach the database is in /etc/acme-lamp/database.php, written at first boot: the local
// MariaDB, or the managed database attached to the droplet.
declare(strict_types=1);

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
header('Content-Type: text/html; charset=utf-8');

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES, 'UTF-8');
}

try {
    $db = require '/etc/acme-lamp/database.php';
    $link = mysqli_init();
    // Managed databases take TLS connections only.
    $link->real_connect($db['host'], $db['user'], $db['password'], $db['name'], (int) $db['port'], $db['socket'] ?: null, $db['ssl'] ? MYSQLI_CLIENT_SSL : 0);
    $link->query('CREATE TABLE IF NOT EXISTS visits (id INT AUTO_INCREMENT PRIMARY KEY, at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)');
    $link->query('INSERT INTO visits () VALUES ()');
    $visits = (int) $link->query('SELECT COUNT(*) FROM visits')->fetch_row()[0];
    $server = (string) $link->query('SELECT VERSION()')->fetch_row()[0];
    $link->close();
} catch (Throwable $e) {
    // The details go to Apache's error log, not to visitors.
    error_log('acme-lamp: database not reachable: ' . $e->getMessage());
    http_response_code(503);
    echo "<!DOCTYPE html>\n<title>Acme LAMP</title>\n<h1>Acme LAMP</h1>\n<p>The database is not reachable yet. Details are in /var/log/apache2/error.log.</p>\n";
    exit;
}
?>
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme LAMP</title></head>
<body>
  <h1>Acme LAMP</h1>
  <p>Database OK: <?= h($db['mode']) ?> database <code><?= h($db['name']) ?></code> on <?= h($db['host']) ?>, server <?= h($server) ?>.</p>
  <p>Visits recorded in the database: <?= $visits ?>.</p>
  <p>PHP <?= h(PHP_VERSION) ?> on Apache. Put your site in <code>/var/www/html</code>.</p>
</body>
</html>

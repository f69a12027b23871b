<?php
// Acme LEMP: a page that answers 200 once it reached the database (and counts the visit there),
// 503 when it cannot. How to reach it is in /etc/acme-lemp/database.php.
declare(strict_types=1);

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
header('Content-Type: text/html; charset=utf-8');

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES, 'UTF-8');
}

try {
    $db = require '/etc/acme-lemp/database.php';
    $link = new mysqli('localhost', $db['user'], $db['password'], $db['name'], 0, $db['socket']);
    $link->query('INSERT INTO visits () VALUES ()');
    $row = $link->query('SELECT COUNT(*), VERSION() FROM visits')->fetch_row();
    echo '<!doctype html><title>Acme LEMP</title>', "\n";
    echo '<h1>Hello from your Acme LEMP droplet!</h1>', "\n";
    printf(
        "<p>PHP %s through nginx. Database OK: <code>%s</code>, server %s, %d visits.</p>\n",
        h(PHP_VERSION),
        h($db['name']),
        h((string) $row[1]),
        (int) $row[0]
    );
} catch (Throwable $e) {
    http_response_code(503);
    error_log('acme-lemp: the database is not reachable: ' . $e->getMessage());
    echo "<p>The database is not reachable yet; see the web server's error log.</p>\n";
}

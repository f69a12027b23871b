<?php
// Acme LEMP: how the site reaches its database (read by /var/www/html/index.php).
// A template ($.files.templates): first boot writes the password generator-mpimg made for this
// droplet ($.secrets APP_DB_PASSWORD, also in /root/.digitalocean_passwords). The folder is
// root:www-data 0750 ($.directories): only root and the web server read this file.
return [
    'socket' => '/run/mysqld/mysqld.sock',
    'name' => 'app',
    'user' => 'app',
    'password' => '{{secret.APP_DB_PASSWORD}}',
];

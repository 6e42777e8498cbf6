<?php
// The boot test's application: proves which DB_PASSWORD the running php-fpm workers
// have (from the pool agentd rendered), without printing it.
header('Content-Type: text/plain');
echo 'instance=', getenv('INSTANCE_ID'), "\n";
echo 'db_password_sha256=', hash('sha256', (string) getenv('DB_PASSWORD')), "\n";

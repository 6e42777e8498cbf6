<?php
// The PHP peer of the ingestion benchmark (bench/ingest-bench.py): the same
// endpoint written the way a PHP team would. POST NDJSON, validate each
// record against the same schema as bench/peers/bench.conf, and store it
// synchronously with PDO: one prepared upsert per record, one transaction a
// request. Same table layout as the plugin's, same MariaDB, same nginx.
header('Content-Type: application/json');
header('Cache-Control: no-store');

function fail(int $code, string $kind, string $msg, array $extra = []): void {
    http_response_code($code);
    echo json_encode(['error' => $kind, 'message' => $msg] + $extra), "\n";
    exit;
}

$auth = $_SERVER['HTTP_AUTHORIZATION'] ?? '';
if (!hash_equals('Bearer ' . getenv('INGEST_KEY'), $auth)) {
    fail(401, 'unauthorized', 'an Authorization: Bearer API key is required');
}
$body = file_get_contents('php://input');
$records = [];
$bad = [];
foreach (explode("\n", $body) as $i => $line) {
    if (trim($line) === '') continue;
    $r = json_decode($line, true);
    if (!is_array($r)) fail(400, 'malformed', 'line ' . ($i + 1) . ' is not valid JSON');
    $id = isset($r['id']) ? trim((string)$r['id']) : '';
    $ts = isset($r['ts']) ? strtotime($r['ts']) : false;
    if ($id === '' || iconv_strlen($id) > 64) { $bad[] = ['line' => $i + 1, 'field' => 'id']; continue; }
    if ($ts === false) { $bad[] = ['line' => $i + 1, 'field' => 'ts']; continue; }
    if (!isset($r['kind']) || iconv_strlen($r['kind']) > 32) { $bad[] = ['line' => $i + 1, 'field' => 'kind']; continue; }
    $records[] = [$id, gmdate('Y-m-d H:i:s', $ts), trim($r['kind']),
                  isset($r['value']) ? (float)$r['value'] : null,
                  isset($r['count']) ? (int)$r['count'] : null,
                  isset($r['ok']) ? ($r['ok'] ? 1 : 0) : null];
}
if ($bad) fail(422, 'schema', count($bad) . ' records do not match', ['bad_records' => array_slice($bad, 0, 10)]);
try {
    $pdo = new PDO(getenv('DB_DSN'), getenv('DB_USER'), getenv('DB_PASSWORD'), [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_PERSISTENT => true]);
    $pdo->beginTransaction();
    $st = $pdo->prepare('INSERT INTO php_events (id, ts, kind, value, count, ok, _ingested_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))'
        . ' ON DUPLICATE KEY UPDATE ts = VALUES(ts), kind = VALUES(kind), value = VALUES(value), count = VALUES(count),'
        . ' ok = VALUES(ok), _ingested_at = VALUES(_ingested_at)');
    foreach ($records as $r) $st->execute($r);
    $pdo->commit();
} catch (PDOException $e) {
    fail(503, 'unavailable', 'database error');
}
http_response_code(201);
echo json_encode(['stored' => count($records)]), "\n";

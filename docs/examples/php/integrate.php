<?php
// Send a work to pidsync, read what became of it, and verify a webhook pidsync sent, with
// plain PHP (7.4+: hash_hmac, hash_equals, the http stream wrapper; no extension needed).
// OJS plugins can copy pidsync_sign(), pidsync_request() and pidsync_verify_webhook().
//
// Run: PIDSYNC_URL=... PIDSYNC_CLIENT=... PIDSYNC_SECRET=... \
//      WEBHOOK_BODY_FILE=body.json WEBHOOK_SIGNATURE='t=...,v1=...' php integrate.php

$url = getenv('PIDSYNC_URL');
$client = getenv('PIDSYNC_CLIENT');
$secret = getenv('PIDSYNC_SECRET');

// --8<-- [start:sign]
/** The Pidsync-Signature header for $payload: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>">. */
function pidsync_sign(string $secret, string $payload): string
{
    $t = time();
    return 't=' . $t . ',v1=' . hash_hmac('sha256', $t . '.' . $payload, $secret);
}
// --8<-- [end:sign]

// --8<-- [start:send]
/** A signed request: a POST signs its raw body, a GET signs "GET <path and query>". Returns [status, body]. */
function pidsync_request(string $url, string $client, string $secret, string $method, string $target, ?string $body = null): array
{
    $headers = ['Pidsync-Client: ' . $client];
    if ($method === 'POST') {
        $headers[] = 'Content-Type: application/cloudevents+json';
        $headers[] = 'Pidsync-Signature: ' . pidsync_sign($secret, $body);
    } else {
        $headers[] = 'Pidsync-Signature: ' . pidsync_sign($secret, 'GET ' . $target);
    }
    $context = stream_context_create(['http' => [
        'method' => $method,
        'header' => implode("\r\n", $headers),
        'content' => $body ?? '',
        'ignore_errors' => true, // read the problem body of a 4xx too
        'follow_location' => 0,
    ]]);
    $answer = file_get_contents($url . $target, false, $context);
    if ($answer === false) {
        throw new RuntimeException('cannot reach ' . $url);
    }
    preg_match('{HTTP/\S+ (\d{3})}', $http_response_header[0], $status);
    return [(int) $status[1], json_decode($answer, true)];
}

$source = 'https://cris.example.edu';
$workId = 'example-php-' . bin2hex(random_bytes(4));
$event = [
    'specversion' => '1.0',
    'id' => 'event-' . bin2hex(random_bytes(16)), // unique per source: a repeat is a duplicate
    'source' => $source,
    'type' => 'work.published',
    'datacontenttype' => 'application/json',
    'data' => [
        'id' => $workId,
        'type' => 'dataset',
        'title' => 'Ocean temperatures 2020',
        'publisher' => 'Example University',
        'publication_date' => '2026-03-01',
        'url' => 'https://repository.example.edu/' . $workId,
        'contributors' => [['given' => 'Ada', 'family' => 'Lovelace']],
    ],
];
// Sign exactly the bytes you send: encode once, then sign and send that string.
$body = json_encode($event, JSON_UNESCAPED_SLASHES);
[$status, $answer] = pidsync_request($url, $client, $secret, 'POST', '/events', $body);
if ($status >= 300) {
    echo "rejected $status " . json_encode($answer) . "\n";
    exit(1);
}
$receipt = $answer['receipt'];
echo "accepted $receipt\n";
// --8<-- [end:send]

// --8<-- [start:read]
[$status, $read] = pidsync_request($url, $client, $secret, 'GET', '/events/' . rawurlencode($receipt));
echo 'event ' . $read['status'] . "\n";
// The source is a URL: rawurlencode() makes it ONE path segment (https%3A%2F%2F...).
$target = '/works/' . rawurlencode($source) . '/' . rawurlencode($workId);
for ($i = 0; $i < 40; $i++) { // the worker applies the event within moments
    [$status, $work] = pidsync_request($url, $client, $secret, 'GET', $target);
    if ($status === 200) {
        break;
    }
    usleep(250000);
}
echo "work $status\n";
// --8<-- [end:read]

// --8<-- [start:webhook]
/** True only if pidsync signed this raw body with $secret within 300 seconds. */
function pidsync_verify_webhook(?string $header, string $rawBody, string $secret): bool
{
    if ($header === null || $header === '') {
        return false;
    }
    $t = null;
    $candidates = [];
    foreach (explode(',', $header) as $part) {
        [$key, $value] = array_pad(explode('=', trim($part), 2), 2, '');
        if ($key === 't' && ctype_digit($value)) {
            $t = (int) $value;
        } elseif ($key === 'v1') {
            $candidates[] = strtolower($value);
        }
    }
    if ($t === null || !$candidates || abs(time() - $t) > 300) {
        return false; // malformed, or too old: a replay
    }
    $expected = hash_hmac('sha256', $t . '.' . $rawBody, $secret);
    foreach ($candidates as $candidate) {
        if (hash_equals($expected, $candidate)) { // constant time
            return true;
        }
    }
    return false;
}

// In a receiver: $rawBody = file_get_contents('php://input');
//                $header = $_SERVER['HTTP_PIDSYNC_SIGNATURE'] ?? null;
$rawBody = file_get_contents(getenv('WEBHOOK_BODY_FILE'));
if (!pidsync_verify_webhook(getenv('WEBHOOK_SIGNATURE') ?: null, $rawBody, $secret)) {
    echo "webhook refused\n"; // answer 401: pidsync did not send this
    exit(1);
}
$webhook = json_decode($rawBody, true);
// The same secret signs your requests to pidsync: a captured request replayed at this receiver
// is signed too. Only pidsync's own webhooks carry the source "pidsync".
if (($webhook['source'] ?? null) !== 'pidsync') {
    echo "webhook refused: not from pidsync\n";
    exit(1);
}
echo 'webhook verified ' . $webhook['type'] . "\n";
// --8<-- [end:webhook]

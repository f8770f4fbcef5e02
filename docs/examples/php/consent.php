<?php
// Trust the redirect back from pidsync's ORCID consent flow only if pidsync signed it.
//
// Run: ORCID_CLIENT_SECRET=... php consent.php 'https://cris.example.edu/orcid/done?...'

// --8<-- [start:trusted]
/** Whether orcid_sig signs these parameters with your ORCID client's secret, lately. */
function pidsync_consent_trusted(array $params, string $orcidClientSecret): bool
{
    $signed = array_intersect_key($params, array_flip(['orcid', 'orcid_status', 'orcid_ts', 'person']));
    ksort($signed);
    // Form-encoded as pidsync (Python's urlencode) does it: a space is "+", "~" stays.
    $text = str_replace('%7E', '~', http_build_query($signed));
    $expected = hash_hmac('sha256', $text, $orcidClientSecret);
    $ts = $params['orcid_ts'] ?? '';
    $fresh = ctype_digit($ts) && abs(time() - (int) $ts) < 300;
    return $fresh && hash_equals($expected, $params['orcid_sig'] ?? '');
}

// In a receiver: pidsync_consent_trusted($_GET, $orcidClientSecret)
// --8<-- [end:trusted]

parse_str(parse_url($argv[1], PHP_URL_QUERY) ?? '', $query);
if (!pidsync_consent_trusted($query, getenv('ORCID_CLIENT_SECRET'))) {
    echo "refused\n";
    exit(1);
}
echo 'trusted ' . $query['orcid'] . ' ' . $query['orcid_status'] . ' ' . ($query['person'] ?? '') . "\n";

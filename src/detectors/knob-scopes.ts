/**
 * Which detectors the pipeline-level knobs apply to, decided once here so validation, the
 * wrapper that applies them (pipeline/knobs.ts) and the docs agree.
 */

/**
 * Detectors whose findings are about one metric's value against what was expected, with a
 * direction (evidence: metric, value, direction and a baseline, implied value or limit):
 * `direction` and `min_deviation` apply to them. flatline is about a value that does not move,
 * so neither applies to it.
 */
export const METRIC_DETECTORS: readonly string[] = ['metric_baseline', 'level_shift', 'metric_relation', 'range_limits'];

/**
 * Detectors an allow-list entry applies to when it names none: those that judge a connection by
 * where it goes, which an allowed destination explains (a new peer, a beacon to it, bulk
 * transfer to it, plaintext to it, a segment or policy breach towards it). Not the ones that
 * judge a pattern whatever the destinations are: a scan (fanout) across an allowed network, a
 * brute force (auth_failures) against an allowed server, one identity in two places
 * (device_cloning) or activity at odd hours are still attacks. An entry may name them
 * explicitly with `detectors:`.
 */
export const ALLOW_DEFAULT_DETECTORS: readonly string[] = ['new_peer', 'beaconing', 'exfiltration', 'lateral_movement', 'flood', 'tls_downgrade', 'policy'];

// Package faulttest holds the fault tests of the department connectors: what breaks in
// production — a department that answers in 5 s, connections cut before and after the
// department acted, the broker restarting mid-flow, a department down long enough to open its
// breaker — and the proof, each time, that nothing is lost, nothing takes effect twice, and
// other departments are not held up. The tests log the figures operators plan with: the
// healthy departments' throughput while one is slow, how long a breaker takes to open and to
// close again, how long consumers take to catch up after a broker restart.
//
// The package has no code of its own; its tests run on the embedded broker and, when
// YJSHUB_TEST_KAFKA names one, on Apache Kafka as well (the broker restart needs the embedded
// broker, which the test can stop).
package faulttest

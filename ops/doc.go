// Package ops owns what ships with the hub for monitoring it: the Grafana dashboard
// (grafana/yjshub-dashboard.json) and the Prometheus alert rules with their unit tests
// (prometheus/alerts.yml, prometheus/alerts_test.yml), described for operators in README.md.
// It has no code; its tests hold the files to the hub: the rules pass promtool, the dashboard
// is well formed, and every metric either names is one the hub exports.
package ops

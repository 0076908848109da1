package deptsim

// Stats is what a [Simulator] has received and called back since it started; GET /stats
// serves it as JSON. Department counts cover the whole run; sub-cases only those retained.
type Stats struct {
	// Departments by code; only departments that received a push appear.
	Departments map[string]DeptStats `json:"departments"`
	// Subcases by sub-case id: those whose callbacks are running, and the most recently pushed
	// of the others, up to the retention (see [WithRetention]).
	Subcases map[string]SubcaseStats `json:"subcases"`
}

// DeptStats counts one department's traffic.
type DeptStats struct {
	// Received counts pushes answered 2xx, duplicates included: Received − Duplicates is the
	// number of sub-cases accepted.
	Received int `json:"received"`
	// Duplicates counts pushes answered 200 without effect: a repeated Idempotency-Key, or a
	// new message for a sub-case already accepted.
	Duplicates int `json:"duplicates"`
	// FailuresInjected counts pushes answered with the configured failure status.
	FailuresInjected int `json:"failures_injected"`
	// SignaturesRefused counts pushes answered 401 for a missing or wrong signature.
	SignaturesRefused int `json:"signatures_refused,omitempty"`
	// Supplements counts the applicants' answers to supplement requests received
	// (cn.yjshub.subcase.resubmitted); each is then approved.
	Supplements int `json:"supplements,omitempty"`
	// Withdrawals counts sub-cases withdrawn by their applicants (cn.yjshub.subcase.withdrawn);
	// their remaining callbacks are not sent.
	Withdrawals int `json:"withdrawals,omitempty"`
	// MaterialsFetched counts materials fetched through their hub links whose bytes had the
	// sha256 the message announced.
	MaterialsFetched int `json:"materials_fetched,omitempty"`
	// MaterialsRefused counts materials whose link the hub refused or whose bytes did not
	// match; each makes its sub-case rejected.
	MaterialsRefused int `json:"materials_refused,omitempty"`
	// LicenceFilesUploaded counts the e-licences' files uploaded to the hub before their
	// approvals (PUT /api/v1/files/{sha256}), each named in its approval by object id.
	LicenceFilesUploaded int `json:"licence_files_uploaded,omitempty"`
	// CallbacksSent counts events the hub answered 2xx.
	CallbacksSent int `json:"callbacks_sent"`
	// CallbacksFailed counts events given up: answered 4xx, or still failing after every retry.
	CallbacksFailed int `json:"callbacks_failed"`
}

// SubcaseStats describes one sub-case.
type SubcaseStats struct {
	Department string `json:"department"`
	// Deliveries counts well-formed pushes of the sub-case: duplicates and pushes answered with
	// an injected failure included.
	Deliveries int `json:"deliveries"`
	// EventsSent lists, in order, the types of the events the hub answered 2xx.
	EventsSent []string `json:"events_sent"`
}

// Stats returns a copy of the statistics.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Departments: make(map[string]DeptStats, len(s.depts)), Subcases: make(map[string]SubcaseStats, len(s.subcases))}
	for code, d := range s.depts {
		out.Departments[code] = d.stats
	}
	for id, sc := range s.subcases {
		out.Subcases[id] = SubcaseStats{
			Department: sc.department,
			Deliveries: sc.deliveries,
			EventsSent: append(make([]string, 0, len(sc.eventsSent)), sc.eventsSent...),
		}
	}
	return out
}

package bus

// The namespace ([Config.Namespace]) prefixes what the hub owns: its topics and its own
// consumer groups. A group that a department names in its connectors file is the
// department's: its consumers commit under exactly that name, whatever namespace the hub runs
// in, so the bus must read it, never a prefixed name that nobody commits under. Such a group is
// declared once ([Bus.DeclareForeignGroup]); from then on every call of the bus that takes a
// group ([Bus.Lag], [Bus.Subscribe]) uses it as written.

// DeclareForeignGroup declares group a consumer group the hub does not own (a department's, as
// its connectors file names it): [Bus.GroupName] and every call that takes a group use it as
// written, without the namespace. Declaring is idempotent and safe for concurrent use; a
// declaration lasts as long as the bus. Without a namespace it changes nothing.
func (b *Bus) DeclareForeignGroup(group string) {
	if group == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.foreign == nil {
		b.foreign = map[string]bool{}
	}
	b.foreign[group] = true
}

// GroupName returns a consumer group's name on the cluster: the group as written when it was
// declared foreign ([Bus.DeclareForeignGroup]), else the namespace followed by it. Status
// pages and logs show this name, which is what the cluster's own tools list.
func (b *Bus) GroupName(group string) string {
	b.mu.Lock()
	foreign := b.foreign[group]
	b.mu.Unlock()
	if foreign {
		return group
	}
	return b.cfg.Namespace + group
}

// TopicName returns a topic's name on the cluster: the namespace followed by topic (every
// topic the bus uses is the hub's).
func (b *Bus) TopicName(topic string) string { return b.cfg.Namespace + topic }

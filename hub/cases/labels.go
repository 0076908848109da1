package cases

import (
	"fmt"
	"strings"
)

// StateLabels are the Chinese names of the case and sub-case states, as an applicant reads
// them (办件状态). The API gives them beside the codes (state_label), so that a platform shows
// them as they are.
var StateLabels = map[string]string{
	StateWaiting:             "等待前置事项办结",
	StateDispatched:          "已推送至部门",
	StateReceived:            "部门已接收",
	StateAccepted:            "已受理",
	StateSupplementRequested: "待补正",
	StateResubmitted:         "已补正",
	StateSuspended:           "特别程序中（暂停计时）",
	StateApproved:            "准予许可（已办结）",
	StateRejected:            "不予许可（已办结）",
	StateCancelled:           "已终止（前置事项未获准予）",
	StateWithdrawn:           "已撤回",
	CaseInProgress:           "办理中",
	CaseCompleted:            "已办结",
}

// OutcomeLabels are the Chinese names of a completed case's outcomes.
var OutcomeLabels = map[string]string{
	OutcomeApproved: "全部准予",
	OutcomePartial:  "部分准予",
	OutcomeRejected: "全部不予许可",
}

// Timeline step types besides the sub-case states.
const (
	StepSubmitted      = "submitted"       // the application was taken in
	StepDelivered      = "delivered"       // a department's system took a message (operators only)
	StepDeliveryFailed = "delivery_failed" // a message could not be delivered (operators only)
	// StepDeliveryRetrying: a message's attempt failed and it is being tried again (operators only).
	StepDeliveryRetrying = "delivery_retrying"
	StepSupplemented     = "supplemented"    // the applicant sent a supplement (补正材料已提交)
	StepResumed          = "resumed"         // a suspension ended
	StepLicenceRevoked   = "licence_revoked" // an e-licence of the case was revoked
)

// StepLabels name the timeline's steps in Chinese.
var StepLabels = map[string]string{
	StepSubmitted:            "已提交申请",
	StateWaiting:             "等待前置事项",
	StateDispatched:          "已推送至部门",
	StepDelivered:            "部门系统已接收",
	StepDeliveryFailed:       "推送失败",
	StepDeliveryRetrying:     "推送重试中",
	StateReceived:            "部门已接收",
	StateAccepted:            "已受理",
	StateSupplementRequested: "要求补正",
	StepSupplemented:         "已提交补正材料",
	StateResubmitted:         "补正材料已接收",
	StateSuspended:           "进入特别程序",
	StepResumed:              "恢复办理",
	StateApproved:            "准予许可",
	StateRejected:            "不予许可",
	StateCancelled:           "已终止",
	StateWithdrawn:           "已撤回",
	CaseCompleted:            "办结",
	StepLicenceRevoked:       "证照已撤销",
	StepRated:                "已评价",
	StepRectified:            "差评已整改答复",
}

// label returns the Chinese name of a state or step, or the code when it has none.
func label(labels map[string]string, code string) string {
	if l, ok := labels[code]; ok {
		return l
	}
	return code
}

// operatorOnly are the steps an applicant is not shown: how the hub's messages travelled.
var operatorOnly = map[string]bool{StepDelivered: true, StepDeliveryFailed: true, StepDeliveryRetrying: true}

// applicantText says a step in words for the applicant: what happened, at which department, to
// which matter. It is empty for the steps applicants are not shown. extra, when given, is
// appended as it is (a reason, a deadline) and must hold no personal data.
func applicantText(typ, dept, matter, extra string) string {
	if operatorOnly[typ] {
		return ""
	}
	var b strings.Builder
	if dept != "" {
		b.WriteString(dept)
	}
	if matter != "" {
		fmt.Fprintf(&b, "「%s」", matter)
	}
	b.WriteString(label(StepLabels, typ))
	if extra != "" {
		b.WriteString("：" + extra)
	}
	return b.String()
}

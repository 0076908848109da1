package reform

// Plan is what the district's plan of 2023 promises, as the report measures it: so that the
// console shows each figure beside the promise it answers.
type Plan struct {
	// Title names the plan.
	Title string `json:"title"`
	// TimeReductionTargetPercent is the plan's one number: handling time cut by this share of
	// the statutory limits (Handling.ReductionPercent measures it).
	TimeReductionTargetPercent int `json:"time_reduction_target_percent"`
	// Promises are the plan's promises, each with the figures that measure it.
	Promises []Promise `json:"promises"`
}

// Promise is one promise of the plan.
type Promise struct {
	// Code names the promise for the console: fewer_materials, shared_data, shorter_time,
	// one_window, one_round.
	Code string `json:"code"`
	// Label is its name in the reform's words (减材料, 免填免交 …); Text what the plan says.
	Label string `json:"label"`
	Text  string `json:"text"`
	// Measures are the figures of the report that measure it, as JSON paths within a set of
	// figures (fields.saved_percent, handling.reduction_percent …).
	Measures []string `json:"measures"`
}

// thePlan is 赣榆区推进市设“一件事一次办”改革实施方案 (2023), in its own words.
func thePlan() Plan {
	return Plan{
		Title:                      "赣榆区推进市设“一件事一次办”改革实施方案",
		TimeReductionTargetPercent: TimeReductionTarget,
		Promises: []Promise{
			{Code: "fewer_materials", Label: "减材料",
				Text:     "对“一件事一次办”涉及的多个政务服务事项的申请材料和表单，通过归并、数据共享等方式进行精简、优化，提高材料复用率，实现“多表合一、一表申请”“一套材料、一次提交”",
				Measures: []string{"fields.asked", "fields.separate", "fields.saved_percent", "materials.asked", "materials.separate", "materials.saved_percent"}},
			{Code: "shared_data", Label: "免填免交",
				Text:     "通过归并、数据共享等方式进行精简、优化，提高材料复用率",
				Measures: []string{"fields.prefilled_percent", "materials.from_licences_percent"}},
			{Code: "shorter_time", Label: "减时限",
				Text:     "实现办理时限在法定时限基础上压缩50%",
				Measures: []string{"handling.mean_days", "handling.p90_days", "handling.mean_statutory_days", "handling.reduction_percent", "handling.within_promised_percent", "handling.within_statutory_percent"}},
			{Code: "one_window", Label: "减环节、减跑动",
				Text:     "推动企业和群众办事由“多地、多窗、多次”向“一地、一窗、一次”转变",
				Measures: []string{"cases", "matters"}},
			{Code: "one_round", Label: "一次办结",
				Text:     "实现多个事项“一次告知、一表申请、一套材料、一窗（端）受理、一网办理”",
				Measures: []string{"one_round.percent", "handling.without_supplement_percent"}},
		},
	}
}

package problem

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Labeller names the catalogue's things in Chinese, by code: a canonical field of the one form
// (数据元), a material (材料) and a matter (事项). *catalogue.Catalogue is one. Each method
// reports false for a code it does not know.
type Labeller interface {
	FieldName(code string) (string, bool)
	MaterialName(code string) (string, bool)
	MatterName(code string) (string, bool)
}

// Localise returns a copy of problems with MessageZH filled, in Chinese for the applicant,
// where the producer left it empty: the rule's template (ZHTemplates) naming the thing the
// problem is about. The thing is the problem's Field or Material as l names it, else what its
// path points at (/form/<field>, /materials/<i>, /matters/<i>, a known key of the hub's
// requests), else a generic word. The message never holds a submitted value: a code l does not
// know and a key of the request the hub does not know are not repeated. l may be nil: fields and
// materials are then not named.
func Localise(problems []Problem, l Labeller) []Problem {
	if problems == nil {
		return nil
	}
	out := make([]Problem, len(problems))
	for i, p := range problems {
		if p.MessageZH == "" {
			p.MessageZH = MessageZH(p, l)
		}
		out[i] = p
	}
	return out
}

// MessageZH says p in Chinese for the applicant (see Localise); it ignores p.MessageZH.
func MessageZH(p Problem, l Labeller) string {
	t, ok := zhTemplates[p.Rule]
	if !ok {
		t = zhUnknownRule
	}
	th := thingOf(p, l)
	switch {
	case th.material && t.material != "":
		return fmt.Sprintf(t.material, th.name)
	case th.name == "" && t.bare != "":
		return t.bare
	case !strings.Contains(t.thing, "%s"):
		return t.thing
	}
	name := th.name
	if name == "" {
		name = "该项"
	}
	return fmt.Sprintf(t.thing, name)
}

// HasZHTemplate reports whether rule has a Chinese template of its own.
func HasZHTemplate(rule string) bool {
	_, ok := zhTemplates[rule]
	return ok
}

// zhTemplate words one rule. thing names the thing with %s (or not at all); material, where
// set, is used instead when the thing is a material; bare, where set, is used instead when no
// thing can be named.
type zhTemplate struct {
	thing, material, bare string
}

// zhUnknownRule words a rule without a template of its own.
var zhUnknownRule = zhTemplate{thing: "%s有误，请核对", bare: "提交的内容有误，请核对后重新提交"}

// zhTemplates holds a template for every rule the hub reports, by rule code. A test finds every
// rule constant of the module and fails on one that is not here.
var zhTemplates = map[string]zhTemplate{
	// problem: rules several parts of the hub report.
	RuleRequired:     {thing: "请填写%s", material: "请提交%s", bare: "请补充必填的内容"},
	RuleType:         {thing: "%s的填写形式不正确，请核对"},
	RuleJSON:         {thing: "提交的内容不是规定格式的JSON，请核对后重新提交"},
	RuleUnknownField: {thing: "%s不是所选事项需要填写的内容，请删除", bare: "提交了所选事项不需要的内容，请删除"},
	RuleEnum:         {thing: "%s不在可选范围内，请重新选择"},
	RuleDuplicate:    {thing: "%s重复提交，请只保留一份", material: "%s重复提交，请只保留一份"},
	RuleOneOf:        {thing: "%s只能以一种方式提供，请只保留一种", material: "%s只能以一种方式提供（上传文件或电子证照），请只保留一种"},
	RuleNotAllowed:   {thing: "%s不能在此提交"},
	RuleConflict:     {thing: "%s与已有信息不一致，请核对"},
	RuleInvalid:      {thing: "%s不符合要求，请核对", bare: "提交的内容不符合要求，请核对后重新提交"},
	RuleMinimum:      {thing: "%s小于允许的最小值，请核对"},
	RuleMaximum:      {thing: "%s大于允许的最大值，请核对"},
	RuleRange:        {thing: "%s超出允许的范围，请核对"},
	RuleMinLength:    {thing: "%s长度不足，请填写完整"},
	RuleMaxLength:    {thing: "%s超过允许的长度，请精简"},
	RuleMaxSize:      {thing: "%s超过允许的大小", bare: "提交的内容超过允许的大小，请精简后重新提交"},
	RulePattern:      {thing: "%s的格式不正确，请核对"},
	RuleOrder:        {thing: "%s的先后顺序不正确（结束日期不能早于开始日期），请核对"},
	RuleDate:         {thing: "%s应为日期，格式为年-月-日（如2026-01-31）"},
	RuleInteger:      {thing: "%s应为整数"},
	RuleBoolean:      {thing: "%s应为“是”或“否”（true或false）"},
	RuleDuration:     {thing: "%s应为时长（如30s、30m）"},
	RuleSHA256:       {thing: "%s格式不正确，应为64位十六进制的SHA-256摘要"},
	RuleURI:          {thing: "%s不正确，请提供以https开头的完整地址"},
	RuleFilename:     {thing: "%s不正确，不能含有路径分隔符"},

	// connectors: the problems of a connectors file (yjshub connectors check), for departmental IT.
	"syntax":        {thing: "%s不是有效的YAML，请核对缩进和符号", bare: "文件不是有效的YAML，请核对缩进和符号"},
	"unknown_key":   {thing: "%s不是可用的配置项，请核对拼写"},
	"duplicate_key": {thing: "%s重复出现，请只保留一处"},
	"unknown_kind":  {thing: "%s不是可用的连接方式，请核对"},
	"unreadable":    {thing: "%s无法读取，请核对文件路径和权限", bare: "文件无法读取，请核对文件路径和权限"},

	// format: the checked formats of the field dictionary.
	"gb11643":  {thing: "%s有误（位数、出生日期或校验位不正确），请核对"},
	"gb32100":  {thing: "%s不是有效的统一社会信用代码（位数或校验位不正确），请核对"},
	"mobile":   {thing: "%s不是有效的手机号码，请核对"},
	"gb2260":   {thing: "%s不是有效的行政区划代码，请核对"},
	"email":    {thing: "%s不是有效的电子邮箱地址，请核对"},
	"postcode": {thing: "%s不是有效的邮政编码，请核对"},
	"phone":    {thing: "%s不是有效的电话号码，请核对"},
	// The identity documents beyond the resident ID (the applicant's id_type chooses the check).
	"residence_permit_hmt":       {thing: "%s不是有效的港澳台居民居住证号码（应以810000、820000或830000开头，出生日期和校验位须正确），请核对"},
	"foreign_permanent_resident": {thing: "%s不是有效的外国人永久居留身份证号码（应为以9开头的18位号码，出生日期和校验位须正确），请核对"},
	"passport":                   {thing: "%s不是有效的护照号码（应为5至20位大写字母或数字），请核对"},
	// An individual business's own credit code.
	"gb32100_individual_business": {thing: "%s不是有效的个体工商户统一社会信用代码（应以92开头，位数和校验位须正确），请核对"},

	// jsonstrict: the body's text.
	"control_character": {thing: "%s含有不可见的控制字符，请删除后重新提交"},
	"utf8":              {thing: "提交的内容不是UTF-8编码的文本，请核对后重新提交"},
	"trailing_data":     {thing: "提交的内容末尾有多余的数据，请核对后重新提交"},
	"max_depth":         {thing: "提交的内容嵌套层级过深，请精简"},
	"max_items":         {thing: "%s的条目过多，请精简"},

	// mapping: the bundle, the selection of matters and the one form.
	"expression":             {thing: "%s无法根据已填写的内容生成，请核对相关填写项", bare: "部门表单无法根据已填写的内容生成，请核对填写的内容"},
	"schema":                 {thing: "表单暂时无法校验，请稍后再试或联系窗口工作人员"},
	"unknown_bundle":         {thing: "没有这个一件事，请重新选择"},
	"unknown_applicant_type": {thing: "申请人类型应为企业或个人"},
	"unknown_matter":         {thing: "%s不是本一件事的事项，请重新选择", bare: "所选事项不是本一件事的事项，请重新选择"},
	"not_in_bundle":          {thing: "%s不属于本一件事，请重新选择", bare: "所选事项不属于本一件事，请重新选择"},
	"not_open":               {thing: "%s不向该类申请人开放，请重新选择", bare: "所选事项不向该类申请人开放，请重新选择"},
	"no_matters":             {thing: "本一件事没有向该类申请人开放的事项"},

	// hub/cases: an application, a department's event, a deadline query.
	"applicant_type":    {thing: "%s不向该类申请人开放，请重新选择", bare: "所选事项不向该类申请人开放，请重新选择"},
	"required_matter":   {thing: "本一件事的必办事项不能取消，请重新选择事项"},
	"either_or":         {thing: "这几项事项只能选办其中一项，且必须选办一项，请重新选择事项"},
	"not_needed":        {thing: "所选事项不需要%s，请删除", bare: "所选事项不需要这份材料，请删除"},
	"unknown_material":  {thing: "%s不是材料目录中的材料，请核对材料类型", bare: "材料类型不在材料目录中，请核对"},
	"required_material": {thing: "请提交所选事项要求的%s", material: "请提交%s"},
	"max_files":         {thing: "%s的文件数量超过上限，请精简", material: "%s的文件数量超过上限，请精简", bare: "材料的文件数量超过上限，请精简"},
	// hub/cases: supplements (补正), withdrawals (撤件), the platform's own number.
	"not_asked":          {thing: "部门未要求补正%s，请只提交要求补正的内容", material: "部门未要求补正%s，请只提交要求补正的材料", bare: "部门未要求补正这项内容，请只提交要求补正的内容"},
	"incomplete":         {thing: "同一部门还要求补正%s，请一次提交全部补正内容", material: "同一部门还要求补正%s，请一次提交全部补正材料", bare: "请一次提交部门要求补正的全部内容"},
	"nothing_pending":    {thing: "本件没有待补正的事项", bare: "本件没有待补正的事项"},
	"decided":            {thing: "%s已作出决定，不能撤回", bare: "已有事项作出决定，不能整件撤回，请逐项撤回未办结的可选事项"},
	"not_in_case":        {thing: "%s不是本件申请的事项", bare: "所选事项不是本件申请的事项"},
	"required_stays":     {thing: "%s是本一件事的必办事项，不能单独撤回，请整件撤回", bare: "必办事项不能单独撤回，请整件撤回"},
	"external_ref":       {thing: "%s应为1至64个可见字符，不含空格", bare: "平台申报流水号应为1至64个可见字符，不含空格"},
	"deadline_past":      {thing: "补正期限不能早于补正通知日期", bare: "补正期限不能早于补正通知日期"},
	"holder":             {thing: "%s有误：应为申请人本人有效的统一社会信用代码或公民身份号码，请核对"},
	"unknown_department": {thing: "%s不是目录中的部门，请核对"},
	"material_host":      {thing: "%s所在的网站不是本平台接收材料的地址，请重新上传"},
	"licence_type":       {thing: "%s：电子证照的类型不符合要求，请核对", bare: "电子证照的类型不符合要求，请核对"},
	"licence_unknown":    {thing: "%s：电子证照库中没有该电子证照，请核对证照类型和编号，或改为上传文件", bare: "电子证照库中没有该电子证照，请核对证照类型和编号，或改为上传文件"},
	"licence_holder":     {thing: "%s：该电子证照不属于申请人，只能使用申请人本人的电子证照", bare: "该电子证照不属于申请人，只能使用申请人本人的电子证照"},
	"licence_expired":    {thing: "%s：该电子证照已过有效期，请提供有效的证照或改为上传文件", bare: "该电子证照已过有效期，请提供有效的证照或改为上传文件"},
	"licence_revoked":    {thing: "%s：该电子证照已被发证机关注销，请提供有效的证照或改为上传文件", bare: "该电子证照已被发证机关注销，请提供有效的证照或改为上传文件"},
	// hub/cases: a material named by the id of a file uploaded to the hub.
	"material_object": {thing: "%s：没有找到该上传材料，请先上传文件再提交", material: "%s：没有找到该上传材料，请先上传文件再提交", bare: "没有找到该上传材料，请先上传文件再提交"},
	"material_holder": {thing: "%s：该上传材料不属于本申请人，请上传申请人本人的材料", material: "%s：该上传材料不属于本申请人，请上传申请人本人的材料", bare: "该上传材料不属于本申请人，请上传申请人本人的材料"},
	"material_type":   {thing: "%s：上传材料的类型与所填材料类型不一致，请核对", material: "%s：上传材料的类型与所填材料类型不一致，请核对", bare: "上传材料的类型与所填材料类型不一致，请核对"},

	// hub/cases: an uploaded material removed when its retention ended (package retention).
	"material_removed": {thing: "%s：该上传材料已过保存期限并被删除，请重新上传文件", material: "%s：该上传材料已过保存期限并被删除，请重新上传文件", bare: "该上传材料已过保存期限并被删除，请重新上传文件"},

	// hub/cases: 好差评 (ratings) and 帮办代办 (an agent acting for the applicant).
	"department_not_in_case": {thing: "%s未办理本件的事项，只能评价办理本件事项的部门", bare: "只能评价办理本件事项的部门"},
	"agent_authorisation":    {thing: "代办需要申请人的授权：%s缺失或已失效，请补充", material: "代办需要申请人的授权：请提交%s", bare: "代办需要申请人的授权，请补充授权委托书、委托事项范围和委托期限"},

	// hub/licences: an e-licence a department issues or revokes.
	"issuer": {thing: "发证机关应为办理该事项的部门本身", bare: "发证机关应为办理该事项的部门本身"},
	// hub/licences: an e-licence's file named by the id of a file the department uploaded.
	"licence_file_object": {thing: "%s：没有找到本部门上传的该证照文件，请先上传证照文件", bare: "没有找到本部门上传的该证照文件，请先上传证照文件"},
	"licence_file_holder": {thing: "%s：上传的证照文件不属于该证照的持证人，请核对", bare: "上传的证照文件不属于该证照的持证人，请核对"},
	"licence_file_format": {thing: "%s：证照文件应为OFD或PDF格式", bare: "证照文件应为OFD或PDF格式"},

	// hub/sharing: consents (授权) for shared data.
	"consent_missing":   {thing: "需要申请人授权后才能使用共享数据，请先取得申请人授权"},
	"consent_unknown":   {thing: "授权凭证无效，请重新取得申请人授权"},
	"consent_expired":   {thing: "申请人的授权已过期，请重新取得授权"},
	"consent_purpose":   {thing: "申请人的授权不包括本次用途，请重新取得授权"},
	"consent_holder":    {thing: "该授权不是本申请人给予的，请重新取得授权"},
	"consent_bundle":    {thing: "该授权不适用于本一件事，请重新取得授权"},
	"consent_platform":  {thing: "该授权是申请人给予其他平台的，本平台不能使用"},
	"consent_used":      {thing: "申请人授权的使用次数已用完，请重新取得授权"},
	"consent_withdrawn": {thing: "申请人的授权已撤回，请重新取得授权"},
	"consent_case":      {thing: "所指办件不是本平台为该申请人提交的办件，请改用申请人授权"},

	// connectors/platform: what an integrated platform sends.
	"value_map": {thing: "%s的取值无法识别，请核对", bare: "提交的取值无法识别，请核对"},
}

// thing is what a problem is about, named in Chinese: name is empty when nothing specific can
// be named.
type thing struct {
	name     string
	material bool
}

// thingOf names what p is about: its Field or Material, else what its path points at.
func thingOf(p Problem, l Labeller) thing {
	if p.Field != "" {
		if n, ok := label(l, Labeller.FieldName, p.Field); ok {
			return thing{name: n}
		}
	}
	if p.Material != "" {
		if n, ok := label(l, Labeller.MaterialName, p.Material); ok {
			return thing{name: n, material: true}
		}
		return thing{name: "所需材料", material: true}
	}
	return thingOfPath(p.Path, l)
}

func label(l Labeller, by func(Labeller, string) (string, bool), code string) (string, bool) {
	if l == nil {
		return "", false
	}
	n, ok := by(l, code)
	return n, ok && n != ""
}

// thingOfPath names what a JSON Pointer (or a query parameter's name) points at in the hub's
// requests. Keys the hub does not know are not repeated: they are the submitter's text.
func thingOfPath(path string, l Labeller) thing {
	toks := pointerTokens(path)
	if len(toks) == 0 {
		return thing{}
	}
	switch head := toks[0]; {
	case head == "form" && len(toks) > 1:
		if n, ok := label(l, Labeller.FieldName, toks[1]); ok {
			return thing{name: n}
		}
		return thing{name: "该填写项"}
	case head == "materials" && len(toks) > 1:
		if len(toks) == 2 || len(toks) == 3 && toks[2] == "type" {
			return thing{name: ordinal(toks[1], "份材料"), material: true} // the material itself
		}
		return thing{name: ordinal(toks[1], "份材料") + suffix(toks[2:])}
	case head == "matters" && len(toks) > 1:
		if n, ok := label(l, Labeller.MatterName, toks[1]); ok {
			return thing{name: "事项“" + n + "”"}
		}
		return thing{name: "所选" + ordinal(toks[1], "个事项")}
	case head == "licences" && len(toks) > 1:
		return thing{name: ordinal(toks[1], "个电子证照") + suffix(toks[2:])}
	case head == "missing" && len(toks) > 1:
		return thing{name: ordinal(toks[1], "项补正内容") + suffix(toks[2:])}
	case head == "agent":
		if n, ok := zhAgentKeys[toks[len(toks)-1]]; ok {
			return thing{name: n}
		}
		return thing{name: "帮办代办人信息"}
	case head == "ratings" && len(toks) > 1:
		return thing{name: ordinal(toks[1], "项评价") + suffix(toks[2:])}
	}
	for i := len(toks) - 1; i >= 0; i-- {
		if n, ok := zhKeys[toks[i]]; ok {
			return thing{name: n}
		}
	}
	return thing{}
}

// suffix names the part of an item that toks point at ("的文件摘要"), or nothing.
func suffix(toks []string) string {
	for i := len(toks) - 1; i >= 0; i-- {
		if n, ok := zhKeys[toks[i]]; ok {
			return "的" + n
		}
	}
	return ""
}

// ordinal says "第3份材料" for the index token "2" and unit "份材料"; for a token that is no
// index, the unit without its measure word ("材料").
func ordinal(tok, unit string) string {
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i > 1_000_000 {
		_, n := utf8.DecodeRuneInString(unit)
		return unit[n:]
	}
	return "第" + strconv.Itoa(i+1) + unit
}

// pointerTokens splits a JSON Pointer into its unescaped tokens; a query parameter's name is one
// token.
func pointerTokens(path string) []string {
	if path == "" {
		return nil
	}
	if !strings.HasPrefix(path, "/") {
		return []string{path}
	}
	toks := strings.Split(path[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks
}

// zhKeys names the keys of the hub's requests and the query parameters of its routes.
var zhKeys = map[string]string{
	"bundle":          "一件事",
	"applicant_type":  "申请人类型",
	"matters":         "所选事项",
	"form":            "表单",
	"materials":       "材料",
	"holder":          "持证主体的证件号码",
	"holder_id":       "持证主体的证件号码",
	"holder_id_type":  "持证主体的证件类型",
	"consent":         "申请人授权",
	"token":           "授权凭证",
	"purpose":         "授权用途",
	"ttl":             "授权有效时长",
	"uses":            "授权使用次数",
	"type":            "类型",
	"type_code":       "类型代码",
	"number":          "编号",
	"issuer":          "发证机关",
	"department":      "部门",
	"event_id":        "事件编号",
	"reason":          "理由",
	"decision_number": "决定文书编号",
	"issued_at":       "发证日期",
	"valid_from":      "有效期起始日期",
	"valid_until":     "有效期截止日期",
	"file":            "文件",
	"format":          "文件格式",
	"size":            "文件大小",
	"sha256":          "文件摘要",
	"uri":             "文件地址",
	"filename":        "文件名",
	"licence":         "电子证照",
	"licences":        "电子证照",
	"missing":         "补正内容",
	"within":          "期限（工作日）",
	"all":             "是否全部",
	"state":           "状态",
	"limit":           "条数",
	"from":            "起始日期",
	"to":              "截止日期",
	"kind":            "类别",
	"outcome":         "结果",
	"case":            "办件",
	"connectors":      "连接器配置",
	"level":           "评价等级",
	"comment":         "评价意见",
	"response":        "整改答复",
	"ratings":         "评价",
	// Case numbers, the departments' own numbers and e-licence metadata (GB/T 36901–36904).
	"department_ref":     "部门受理号",
	"issuer_code":        "发证机关统一社会信用代码",
	"identifier":         "证照标识",
	"items":              "照面信息",
	"seal":               "签章信息",
	"algorithm":          "签名算法",
	"certificate_serial": "签名证书序列号",
}

// zhAgentKeys name the parts of an application's agent (帮办代办人, /agent/…).
var zhAgentKeys = map[string]string{
	"agent":         "帮办代办人信息",
	"kind":          "帮办代办类别（帮办或代办）",
	"name":          "帮办代办人姓名",
	"id_type":       "帮办代办人证件类型",
	"id_number":     "帮办代办人证件号码",
	"phone":         "帮办代办人联系电话",
	"organisation":  "帮办代办人所在单位",
	"authorisation": "申请人授权",
	"scope":         "委托事项范围",
	"valid_until":   "委托期限",
	"material":      "授权委托书",
	"filename":      "授权委托书的文件名",
	"sha256":        "授权委托书的文件摘要",
	"size":          "授权委托书的文件大小",
	"uri":           "授权委托书的文件地址",
}

// Package reform owns the report of the reform's results (改革成效): what the 2023 plan of
// 一件事一次办 promises, measured from the cases the hub has taken in over a period — per
// bundle, per department and overall — for the operators' console and a district leader.
//
// The plan (赣榆区推进市设“一件事一次办”改革实施方案) asks for 减材料 (one form and one set of
// materials, 一表申请、一套材料), 免填免交 (data and e-licences shared instead of typed in and
// handed over), 减时限 (handling time cut by half against the statutory limits), 减环节、减跑动
// (one window instead of many) and, with 一次告知, cases finished in one go. The report measures
// each from the store:
//
//   - Fields and materials: each case's one form, as intake built it for the case's bundle,
//     applicant type and matters (mapping.Forms), asks its fields and materials once; the
//     matters' own forms and lists would have asked their sum. The shares supplied from shared
//     data are the reuse report's (hub/sharing), taken as it counts them, not counted again.
//   - Handling time: the working days (hub/deadline's calendar, the one the hub counts deadlines
//     with) from a case's submission to each sub-case's decision (approved or rejected, from
//     the case's timeline), their mean and 90th percentile, against the sub-cases' promised and
//     statutory limits: their means, and the share decided by each deadline as the hub counts
//     it — from the sub-case's clock start, its pauses (补正, 特别程序) not counted.
//   - One window: the matters a case applied for are the separate applications it spared.
//   - One round (一次办结): the share of completed cases in which no department asked for a
//     supplement (补正), and per department the share of decided sub-cases without one.
//
// A case counts in the period of the day (China) it was submitted; what became of it is
// measured as of the report. Cases whose bundle the catalogue no longer has are left out, as
// the reuse report leaves them out.
package reform

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/rivo/uniseg"
	"github.com/spf13/cobra"

	"yjshub/catalogue"
	"yjshub/seeds"
)

// loadCatalogue loads the catalogue from dir, or the embedded seeds when dir is empty.
func loadCatalogue(dir string) (*catalogue.Catalogue, error) {
	if dir == "" {
		return catalogue.Load(seeds.FS, "seeds")
	}
	return catalogue.LoadDir(dir)
}

func seedsFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "seeds", os.Getenv("YJSHUB_SEEDS"),
		"catalogue directory (default: the catalogue built into the binary; env YJSHUB_SEEDS)")
}

func catalogueCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalogue",
		Short: "Check and show the catalogue: bundles (一件事), matters (事项), departments",
	}
	cmd.AddCommand(catalogueValidateCommand(), catalogueListCommand(), catalogueShowCommand())
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// reportLoadError prints a failed load (every problem) and returns the exit error.
func reportLoadError(cmd *cobra.Command, err error, asJSON bool) error {
	var probs catalogue.Problems
	if !errors.As(err, &probs) {
		return err
	}
	if asJSON {
		_ = printJSON(cmd.OutOrStdout(), map[string]any{"ok": false, "problems": probs})
	} else {
		fmt.Fprintln(cmd.ErrOrStderr(), err)
	}
	return exitError{code: 1}
}

func catalogueValidateCommand() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check every catalogue file and cross-reference; list every problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalogue(dir)
			if err != nil {
				return reportLoadError(cmd, err, asJSON)
			}
			counts := map[string]int{
				"departments": len(cat.Departments), "fields": len(cat.Fields), "materials": len(cat.Materials),
				"matters": len(cat.Matters), "bundles": len(cat.Bundles),
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"ok": true, "version": cat.Version, "counts": counts})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "catalogue OK  version %s\n  %d bundles, %d matters, %d departments, %d canonical fields, %d materials\n",
				cat.Version[:12], len(cat.Bundles), len(cat.Matters), len(cat.Departments), len(cat.Fields), len(cat.Materials))
			return nil
		},
	}
	seedsFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// table prints rows in columns, measuring width in terminal cells so Chinese text lines up.
func table(w io.Writer, rows [][]string) {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			if n := uniseg.StringWidth(c); n > widths[i] {
				widths[i] = n
			}
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-uniseg.StringWidth(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func deptName(cat *catalogue.Catalogue, code string) string {
	if d, ok := cat.Department(code); ok {
		return d.Name
	}
	return code
}

func leadText(cat *catalogue.Catalogue, b *catalogue.Bundle) string {
	var parts []string
	for _, l := range b.Leads {
		s := deptName(cat, l.Department)
		switch {
		case l.ApplicantType == catalogue.Enterprise:
			s = "企业：" + s
		case l.ApplicantType == catalogue.Individual:
			s = "个体：" + s
		}
		if l.Stage != "" {
			s = l.Stage + " " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "；")
}

func catalogueListCommand() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the bundles with their lead departments and matters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalogue(dir)
			if err != nil {
				return reportLoadError(cmd, err, asJSON)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"version": cat.Version, "bundles": cat.Bundles})
			}
			rows := [][]string{{"序号", "CODE", "一件事", "完成时间", "事项", "牵头单位"}}
			for _, b := range cat.Bundles {
				opt := 0
				for _, e := range b.Matters {
					if e.Optional {
						opt++
					}
				}
				n := fmt.Sprint(len(b.Matters))
				if opt > 0 {
					n += fmt.Sprintf(" (%d 选办)", opt)
				}
				rows = append(rows, []string{fmt.Sprint(b.Seq), b.Code, b.Name, b.Phase, n, leadText(cat, b)})
			}
			table(cmd.OutOrStdout(), rows)
			fmt.Fprintf(cmd.OutOrStdout(), "\n%d bundles, %d matters; catalogue version %s\n", len(cat.Bundles), len(cat.Matters), cat.Version[:12])
			return nil
		},
	}
	seedsFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func catalogueShowCommand() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show CODE",
		Short: "Show one bundle (by code or 序号), matter or department",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalogue(dir)
			if err != nil {
				return reportLoadError(cmd, err, asJSON)
			}
			out := cmd.OutOrStdout()
			code := args[0]
			if b, ok := cat.Bundle(code); ok {
				if asJSON {
					return printJSON(out, b)
				}
				showBundle(out, cat, b)
				return nil
			}
			if m, ok := cat.Matter(code); ok {
				if asJSON {
					return printJSON(out, map[string]any{"matter": m, "canonical_fields": m.Inputs()})
				}
				showMatter(out, cat, m)
				return nil
			}
			if d, ok := cat.Department(code); ok {
				if asJSON {
					return printJSON(out, d)
				}
				showDepartment(out, cat, d)
				return nil
			}
			return fmt.Errorf("no bundle, matter or department has the code %q (try 'yjshub catalogue list')", code)
		},
	}
	seedsFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func showBundle(w io.Writer, cat *catalogue.Catalogue, b *catalogue.Bundle) {
	fmt.Fprintf(w, "%d  %s  (%s)\n", b.Seq, b.Name, b.Code)
	fmt.Fprintf(w, "完成时间  %s\n牵头单位  %s\n", b.Phase, leadText(cat, b))
	var coop []string
	for _, c := range b.Cooperating {
		coop = append(coop, deptName(cat, c))
	}
	if len(coop) == 0 {
		coop = []string{"/"}
	}
	fmt.Fprintf(w, "配合单位  %s\n", strings.Join(coop, "、"))
	for _, p := range b.CooperatingByLaw {
		fmt.Fprintf(w, "依法参与  %s（%s）\n", deptName(cat, p.Department), p.Basis)
	}
	for _, g := range b.OneOf {
		var names []string
		for _, e := range b.Matters {
			if e.OneOf == g.Code {
				names = append(names, e.Name)
			}
		}
		fmt.Fprintf(w, "选其一    %s：%s\n", g.Name, strings.Join(names, " 或 "))
	}
	fmt.Fprintln(w)
	rows := [][]string{{"#", "涉及事项", "MATTER", "办理部门", "法定 / 承诺时限", "结果"}}
	for i, e := range b.Matters {
		m, _ := cat.Matter(e.Matter)
		name := e.Name
		if e.Optional {
			name += "（选办）"
		}
		rows = append(rows, []string{fmt.Sprint(i + 1), name, e.Matter, handlingText(cat, m),
			m.StatutoryLimit.Label() + " / " + m.PromisedLimit.Label(), m.Result.Name})
	}
	table(w, rows)
}

func handlingText(cat *catalogue.Catalogue, m *catalogue.Matter) string {
	if len(m.Department.ByApplicantType) == 0 {
		return deptName(cat, m.Department.Default)
	}
	var parts []string
	for _, t := range m.ApplicantTypes {
		label := map[string]string{catalogue.Enterprise: "企业", catalogue.Individual: "个体"}[t]
		parts = append(parts, label+"："+deptName(cat, m.Department.For(t)))
	}
	return strings.Join(parts, " ")
}

func showMatter(w io.Writer, cat *catalogue.Catalogue, m *catalogue.Matter) {
	fmt.Fprintf(w, "%s  (%s)\n", m.Name, m.Code)
	if len(m.Aliases) > 0 {
		fmt.Fprintf(w, "别名      %s\n", strings.Join(m.Aliases, "；"))
	}
	fmt.Fprintf(w, "办理部门  %s\n申请人    %s\n", handlingText(cat, m), strings.Join(m.ApplicantTypes, ", "))
	if len(m.Variants) > 0 {
		var vs []string
		for _, v := range m.Variants {
			vs = append(vs, v.Name)
		}
		fmt.Fprintf(w, "情形      %s\n", strings.Join(vs, "、"))
	}
	fmt.Fprintf(w, "法定时限  %s\n", m.StatutoryLimit.Label())
	if m.StatutoryLimit.Basis != "" {
		fmt.Fprintf(w, "时限依据  %s\n", m.StatutoryLimit.Basis)
	}
	if m.StatutoryLimit.Note != "" {
		fmt.Fprintf(w, "时限说明  %s\n", m.StatutoryLimit.Note)
	}
	fmt.Fprintf(w, "承诺时限  %s\n", m.PromisedLimit.Label())
	fmt.Fprintf(w, "事项编码  基本编码 %s，实施编码 %s（%s）\n", m.Codes.Basic, m.Codes.Implementation, m.Codes.Source)
	switch {
	case m.Fee == nil:
	case m.Fee.Unknown:
		fmt.Fprintf(w, "收费标准  未知（%s）\n", m.Fee.Note)
	case m.Fee.Amount == 0:
		fmt.Fprintf(w, "收费标准  不收费（%s）\n", m.Fee.Basis)
	default:
		fmt.Fprintf(w, "收费标准  %g 元（%s）\n", m.Fee.Amount, m.Fee.Basis)
	}
	for _, a := range []struct {
		label string
		a     *catalogue.Allowance
	}{{"告知承诺", m.Commitment}, {"容缺受理", m.TolerantAcceptance}} {
		if a.a != nil && a.a.Allowed {
			fmt.Fprintf(w, "%s  可（%s）\n", a.label, a.a.Basis)
		}
	}
	fmt.Fprintf(w, "办理结果  %s (%s)\n", m.Result.Name, m.Result.Kind)
	if len(m.Prerequisites) > 0 {
		fmt.Fprintf(w, "前置事项  %s\n", strings.Join(m.Prerequisites, ", "))
	}
	fmt.Fprintln(w, "\n申请材料")
	for _, need := range m.Materials {
		name := need.Material
		if mat, ok := cat.Material(need.Material); ok {
			name = mat.Name
		}
		extra := ""
		if need.Optional {
			extra = "（如适用）"
		}
		if len(need.ApplicantTypes) > 0 {
			extra += "（" + strings.Join(need.ApplicantTypes, ", ") + "）"
		}
		fmt.Fprintf(w, "  - %s%s\n", name, extra)
	}
	fmt.Fprintln(w, "\n部门表单 ← 来源")
	rows := [][]string{}
	for _, f := range m.Form {
		src := ""
		switch {
		case f.From != "":
			src = f.From
		case f.Expr != "":
			src = "expr: " + f.Expr
		case f.FromResult != nil:
			src = "result of " + f.FromResult.Matter + "." + f.FromResult.Field
		default:
			src = fmt.Sprintf("const: %v", f.Const)
		}
		req := ""
		if f.Required {
			req = "*"
		}
		if len(f.ApplicantTypes) > 0 { // a field only some applicant types' forms have
			src += "（" + strings.Join(f.ApplicantTypes, ", ") + "）"
		}
		rows = append(rows, []string{"  " + f.Field + req, f.Title, src})
	}
	table(w, rows)
	var bundles []string
	for _, b := range cat.BundlesUsing(m.Code) {
		bundles = append(bundles, fmt.Sprintf("%d %s", b.Seq, b.Name))
	}
	fmt.Fprintf(w, "\n用于      %s\n", strings.Join(bundles, "；"))
}

func showDepartment(w io.Writer, cat *catalogue.Catalogue, d *catalogue.Department) {
	fmt.Fprintf(w, "%s  (%s)  %s\n\n办理事项\n", d.Name, d.Code, d.FullName)
	var names []string
	for _, m := range cat.Matters {
		for _, t := range m.ApplicantTypes {
			if m.Department.For(t) == d.Code {
				names = append(names, fmt.Sprintf("  - %s (%s)", m.Name, m.Code))
				break
			}
		}
	}
	sort.Strings(names)
	fmt.Fprintln(w, strings.Join(names, "\n"))
}

// Package export_example_pipeline_api implements example:pipeline/api: it asks the
// validator (an import, satisfied by the Rust component when composed) which records
// are acceptable, and stores those through the host's SQL interface (wcomp:sql/query).
package export_example_pipeline_api

import (
	"fmt"
	"strings"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
	api "wit_component/example_pipeline_api"
	types "wit_component/example_pipeline_types"
	validate "wit_component/example_pipeline_validate"
	query "wit_component/wcomp_sql_query"
	sql "wit_component/wcomp_sql_types"
)

const schema = `CREATE TABLE IF NOT EXISTS signups (
	email TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	age INTEGER NOT NULL,
	country TEXT NOT NULL
)`

// Ingest implements `ingest: func(records: list<signup>) -> result<report, string>`.
func Ingest(records []types.Signup) witTypes.Result[api.Report, string] {
	if err := ensureSchema(); err != "" {
		return witTypes.Err[api.Report](err)
	}
	checked := validate.Validate(records)
	var stored uint32
	for _, r := range checked.Accepted {
		res := query.Execute(
			// A repeated e-mail address replaces the earlier sign-up.
			`INSERT INTO signups (email, name, age, country) VALUES (?, ?, ?, ?)
			 ON CONFLICT (email) DO UPDATE SET name = excluded.name, age = excluded.age, country = excluded.country`,
			[]sql.Value{
				sql.MakeValueText(r.Email),
				sql.MakeValueText(r.Name),
				sql.MakeValueInteger(int64(r.Age)),
				sql.MakeValueText(r.Country),
			},
		)
		if res.IsErr() {
			return witTypes.Err[api.Report](fmt.Sprintf("storing %s: %s", r.Email, describe(res.Err())))
		}
		stored += uint32(res.Ok())
	}
	return witTypes.Ok[api.Report, string](api.Report{Stored: stored, Rejected: checked.Rejected})
}

// Query implements `query: func(country: option<string>) -> result<list<signup>, string>`.
func Query(country witTypes.Option[string]) witTypes.Result[[]types.Signup, string] {
	if err := ensureSchema(); err != "" {
		return witTypes.Err[[]types.Signup](err)
	}
	statement := "SELECT email, name, age, country FROM signups"
	params := []sql.Value{}
	if country.IsSome() {
		statement += " WHERE country = ?"
		params = append(params, sql.MakeValueText(strings.ToUpper(country.Some())))
	}
	statement += " ORDER BY email"
	res := query.Query(statement, params)
	if res.IsErr() {
		return witTypes.Err[[]types.Signup](describe(res.Err()))
	}
	out := []types.Signup{}
	for _, row := range res.Ok().Rows {
		if len(row) != 4 {
			return witTypes.Err[[]types.Signup](fmt.Sprintf("expected 4 columns, got %d", len(row)))
		}
		out = append(out, types.Signup{
			Email:   text(row[0]),
			Name:    text(row[1]),
			Age:     uint32(integer(row[2])),
			Country: text(row[3]),
		})
	}
	return witTypes.Ok[[]types.Signup, string](out)
}

func ensureSchema() string {
	res := query.Execute(schema, []sql.Value{})
	if res.IsErr() {
		return "creating the signups table: " + describe(res.Err())
	}
	return ""
}

func text(v sql.Value) string {
	if v.Tag() == sql.Value_Text {
		return v.Text()
	}
	return ""
}

func integer(v sql.Value) int64 {
	switch v.Tag() {
	case sql.Value_Integer:
		return v.Integer()
	case sql.Value_Real:
		return int64(v.Real())
	}
	return 0
}

func describe(e sql.Error) string {
	switch e.Tag() {
	case sql.Error_InvalidStatement:
		return "invalid statement: " + e.InvalidStatement()
	case sql.Error_Constraint:
		return "constraint: " + e.Constraint()
	default:
		return "database: " + e.Io()
	}
}

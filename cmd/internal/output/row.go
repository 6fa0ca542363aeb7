// Package output prints the usage rows of every gcusage command through one
// set of writers (table, csv, json, ndjson), whichever service the rows came
// from: a legacy query's, a search's or a summary's gen.APIUsageRow and a
// job's client.Entity both become a Row, so that the same quantity has the
// same column, header, order, empty cell and date format in every command.
//
// A Row keeps the API's own object, which json and ndjson print as the API
// sent it; csv and table print the columns the command asks for, always in
// the order of the Column constants: who (profile, org), then the
// dimensions in the API's order, then the date, then the counters.
package output

import (
	"slices"
	"strconv"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
)

// Column is one quantity of a row. Its value orders the columns of csv and
// table, whatever order a command lists them in.
type Column int

// The columns, in the order csv and table print them. Profile and Org lead,
// for rows merged from several organizations; a command that reads one
// organization leaves them out.
const (
	Profile Column = iota + 1
	Org
	ClientID
	ClientName
	OrganizationID
	UserID
	TemplateURI
	HTTPMethod
	Platform
	Date
	Status200
	Status300
	Status400
	Status500
	Status429
	Requests
	numColumns
)

// columnInfo is a column's csv header (the legacy API's field name, which
// json prints too) and table title.
var columnInfo = [numColumns]struct{ name, title string }{
	Profile:        {"profile", "PROFILE"},
	Org:            {"org", "ORG"},
	ClientID:       {"clientId", "CLIENT ID"},
	ClientName:     {"clientName", "CLIENT NAME"},
	OrganizationID: {"organizationId", "ORGANIZATION ID"},
	UserID:         {"userId", "USER ID"},
	TemplateURI:    {"templateUri", "TEMPLATE URI"},
	HTTPMethod:     {"httpMethod", "METHOD"},
	Platform:       {"platform", "PLATFORM"},
	Date:           {"date", "DATE"},
	Status200:      {"status200", "2XX"},
	Status300:      {"status300", "3XX"},
	Status400:      {"status400", "4XX"},
	Status500:      {"status500", "5XX"},
	Status429:      {"status429", "429"},
	Requests:       {"requests", "REQUESTS"},
}

// Name is the column's csv header, such as requests.
func (c Column) Name() string { return columnInfo[c].name }

// Title is the column's table header, such as REQUESTS.
func (c Column) Title() string { return columnInfo[c].title }

// IsCount tells a counter from a dimension or the date.
func (c Column) IsCount() bool { return c >= Status200 && c <= Requests }

// Columns returns cols in print order, each once.
func Columns(cols ...Column) []Column {
	out := slices.Clone(cols)
	slices.Sort(out)
	return slices.Compact(out)
}

// metricColumns maps the API's metric names, which --metrics and --sort
// take for every service, to their columns.
var metricColumns = map[gen.Metric]Column{
	gen.MetricStatus200: Status200,
	gen.MetricStatus300: Status300,
	gen.MetricStatus400: Status400,
	gen.MetricStatus500: Status500,
	gen.MetricStatus429: Status429,
	gen.MetricRequests:  Requests,
}

// MetricColumn is the column of a metric.
func MetricColumn(m gen.Metric) Column { return metricColumns[m] }

// Row is one row of usage, from either service. The dimensions a query did
// not group by are "", the counters it did not ask for 0, and Date is zero
// without a granularity.
type Row struct {
	// Profile and Org say whose row it is when rows of several
	// organizations are merged; "" otherwise.
	Profile, Org string

	ClientID, ClientName, OrganizationID, UserID, TemplateURI, HTTPMethod, Platform string

	Date time.Time // the bucket's start, in UTC

	Status200, Status300, Status400, Status500, Status429, Requests int64

	// api is the object the API sent, which json prints as it is: a
	// *gen.APIUsageRow or a *client.Entity; nil for a row made here.
	api any
}

// FromLegacy is the row of a legacy query, a summary or a search.
func FromLegacy(r gen.APIUsageRow) Row {
	if !r.Date.IsZero() {
		r.Date = r.Date.UTC() // json promises UTC, as the API writes it
	}
	return Row{
		ClientID: r.ClientID, ClientName: r.ClientName, OrganizationID: r.OrganizationID, UserID: r.UserID,
		TemplateURI: r.TemplateURI, HTTPMethod: r.HTTPMethod, Date: r.Date,
		Status200: r.Status200, Status300: r.Status300, Status400: r.Status400, Status500: r.Status500,
		Status429: r.Status429, Requests: r.Requests,
		api: &r,
	}
}

// FromEntity is the row of a job's entity: its requestCount is the
// requests column, its oauthClient and user the client and user columns.
func FromEntity(e client.Entity) Row {
	r := Row{
		OrganizationID: e.OrganizationID, TemplateURI: e.TemplateURI, HTTPMethod: e.HTTPMethod, Platform: e.Platform,
		Date:      e.Date.Time,
		Status200: e.Status200, Status300: e.Status300, Status400: e.Status400, Status500: e.Status500,
		Status429: e.Status429, Requests: e.RequestCount,
		api: &e,
	}
	if e.OauthClient != nil {
		r.ClientID, r.ClientName = e.OauthClient.ID, e.OauthClient.Name
	}
	if e.User != nil {
		r.UserID = e.User.ID
	}
	return r
}

// Text is the value of a dimension column; "" for any other.
func (r *Row) Text(c Column) string {
	switch c {
	case Profile:
		return r.Profile
	case Org:
		return r.Org
	case ClientID:
		return r.ClientID
	case ClientName:
		return r.ClientName
	case OrganizationID:
		return r.OrganizationID
	case UserID:
		return r.UserID
	case TemplateURI:
		return r.TemplateURI
	case HTTPMethod:
		return r.HTTPMethod
	case Platform:
		return r.Platform
	}
	return ""
}

// Count is the value of a count column; 0 for any other.
func (r *Row) Count(c Column) int64 {
	switch c {
	case Status200:
		return r.Status200
	case Status300:
		return r.Status300
	case Status400:
		return r.Status400
	case Status500:
		return r.Status500
	case Status429:
		return r.Status429
	case Requests:
		return r.Requests
	}
	return 0
}

// value is the column's cell in csv and table, before escaping or cutting:
// a count in decimal, a bucket's date as a date (in full when it does not
// start at midnight UTC), and "" for an empty dimension or no date.
func (r *Row) value(c Column) string {
	switch {
	case c.IsCount():
		return strconv.FormatInt(r.Count(c), 10)
	case c == Date:
		return formatDate(r.Date)
	}
	return r.Text(c)
}

func formatDate(d time.Time) string {
	switch d = d.UTC(); {
	case d.IsZero():
		return ""
	case d.Equal(d.Truncate(24 * time.Hour)):
		return d.Format(time.DateOnly)
	}
	return d.Format(time.RFC3339)
}

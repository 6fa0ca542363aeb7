// Package usagetest is a stub of the Genesys Cloud API Usage endpoints and
// their OAuth token endpoint, in the spirit of net/http/httptest.
package usagetest

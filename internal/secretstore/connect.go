package secretstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// ConnectError says why a store could not be reached at all, in words for
// people: its host name does not resolve, the TLS handshake failed (the
// server's certificate failed verification, or the server broke the
// handshake off), or the connection was refused. It matches ErrUnavailable
// with errors.Is. It holds a host and the network library's short reason,
// never a URL's query, a header or a body.
type ConnectError struct {
	// Host is the host (and port) credflow tried to reach.
	Host string
	// Reason is one of the Connect* reasons.
	Reason string
	// Cause is the library's own words for it, such as "no such host" or
	// "x509: certificate signed by unknown authority".
	Cause string
}

// The reasons of a ConnectError.
const (
	ConnectDNS         = "dns"
	ConnectCertificate = "certificate"
	ConnectHandshake   = "handshake"
	ConnectRefused     = "refused"
)

func (e *ConnectError) Error() string { return fmt.Sprintf("%v: %s", ErrUnavailable, e.Detail()) }

// Is reports whether target is ErrUnavailable.
func (e *ConnectError) Is(target error) bool { return target == ErrUnavailable }

// Detail says what failed, for people.
func (e *ConnectError) Detail() string {
	switch e.Reason {
	case ConnectDNS:
		return fmt.Sprintf("the host name %s does not resolve (DNS: %s)", e.Host, e.Cause)
	case ConnectCertificate:
		return fmt.Sprintf("the TLS handshake with %s failed: the server's certificate is not trusted (certificate verification: %s)", e.Host, e.Cause)
	case ConnectHandshake:
		return fmt.Sprintf("the TLS handshake with %s failed (%s)", e.Host, e.Cause)
	}
	return fmt.Sprintf("connection refused by %s", e.Host)
}

// Permanent reports whether asking again soon is useless: a name that does
// not exist, a certificate that is not trusted, a connection refused. A
// DNS server that did not answer is not permanent.
func (e *ConnectError) Permanent() bool {
	return e.Reason != ConnectDNS || e.Cause == "no such host"
}

// Connect classifies a transport error: the *ConnectError it amounts to,
// or nil when it is none of those (a timeout, a reset connection, a
// cancelled call). host is the host credflow dialled, for the message.
func Connect(host string, err error) *ConnectError {
	var (
		dns     *net.DNSError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		name    x509.HostnameError
		invalid x509.CertificateInvalidError
		alert   tls.AlertError
		record  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &dns):
		cause := "no answer from the DNS server"
		if dns.IsNotFound {
			cause = "no such host"
		}
		return &ConnectError{Host: dns.Name, Reason: ConnectDNS, Cause: cause}
	case errors.As(err, &verify):
		return &ConnectError{Host: host, Reason: ConnectCertificate, Cause: short(verify.Err)}
	case errors.As(err, &unknown), errors.As(err, &name), errors.As(err, &invalid):
		return &ConnectError{Host: host, Reason: ConnectCertificate, Cause: short(err)}
	case errors.As(err, &alert):
		return &ConnectError{Host: host, Reason: ConnectHandshake, Cause: "the server sent the alert: " + alert.Error()}
	case errors.As(err, &record):
		return &ConnectError{Host: host, Reason: ConnectHandshake, Cause: "the server does not speak TLS"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &ConnectError{Host: host, Reason: ConnectRefused, Cause: "connection refused"}
	}
	return nil
}

// short is the innermost error's first line, bounded.
func short(err error) string {
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	s := err.Error()
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

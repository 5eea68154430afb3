package api

import (
	"encoding"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// The OpenAPI 3 document is generated from the route table (the same table
// the app is built from) and the apiv1 types, so it cannot drift; a test
// checks it against the routes fiber actually serves.

var paramRE = regexp.MustCompile(`:([A-Za-z_]+)`)

// openAPIPath turns a fiber path ("/x/:id") into an OpenAPI one ("/x/{id}").
func openAPIPath(p string) string { return paramRE.ReplaceAllString(p, "{$1}") }

type schemaGen struct {
	defs map[string]any
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == reflect.TypeOf(time.Time{}):
		return map[string]any{"type": "string", "format": "date-time"}
	case t == reflect.TypeOf(identity.Date(0)):
		return map[string]any{"type": "string", "pattern": `^([0-9]{4}-[0-9]{2}-[0-9]{2}|` + identity.LongTermText + `)$`,
			"description": "a date YYYY-MM-DD, or " + identity.LongTermText + " (long-term) for valid_until"}
	case t.Kind() != reflect.Struct && t.Kind() != reflect.Pointer && t.Implements(textMarshaler):
		return map[string]any{"type": "string"} // e.g. identity.Gender (男/女), identity.Nation (汉)
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := g.schema(t.Elem())
		s["nullable"] = true
		return s
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := t.Name()
		if name != "" {
			if _, ok := g.defs[name]; !ok {
				g.defs[name] = map[string]any{} // break cycles
				g.defs[name] = g.object(t)
			}
			return map[string]any{"$ref": "#/components/schemas/" + name}
		}
		return g.object(t)
	}
	return map[string]any{}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			embedded := g.object(f.Type)
			for k, v := range embedded["properties"].(map[string]any) {
				props[k] = v
			}
			if r, ok := embedded["required"].([]string); ok {
				required = append(required, r...)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// OpenAPI returns the OpenAPI 3 document of the server's routes.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	errRef := g.schema(reflect.TypeOf(apiv1.ErrorBody{}))
	paths := map[string]any{}
	for _, r := range s.routes {
		p := openAPIPath(r.path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{"summary": r.summary, "operationId": strings.ToLower(r.method) + strings.NewReplacer("/", "_", ":", "", "-", "_", ".", "_").Replace(r.path)}
		var params []any
		for _, m := range paramRE.FindAllStringSubmatch(r.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		switch r.auth {
		case authKiosk:
			op["security"] = []any{map[string]any{"kioskSignature": []any{}}}
		case authKioskStaff:
			op["security"] = []any{map[string]any{"kioskSignature": []any{}, "staffBearer": []any{}}}
		case authStaff:
			op["security"] = []any{map[string]any{"staffBearer": []any{}}}
		case authOffice:
			op["security"] = []any{map[string]any{"officeCookie": []any{}}}
		}
		if len(r.roles) > 0 {
			var rs []string
			for _, role := range r.roles {
				rs = append(rs, string(role))
			}
			op["x-roles"] = rs
		}
		if r.req != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.req))}}}
		} else if r.html && r.method == "POST" {
			op["requestBody"] = map[string]any{"content": map[string]any{"application/x-www-form-urlencoded": map[string]any{"schema": map[string]any{"type": "object"}}}}
		}
		status := r.status
		if status == 0 {
			status = 200
		}
		ok := map[string]any{"description": "success"}
		switch {
		case r.html:
			ok["content"] = map[string]any{"text/html": map[string]any{"schema": map[string]any{"type": "string"}}}
		case r.resp != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.resp))}}
		case r.path == "/metrics":
			ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		case len(r.produces) > 0:
			ok["content"] = map[string]any{}
		case status != 204:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		}
		for _, mt := range r.produces {
			schema := map[string]any{"type": "string"}
			if strings.HasPrefix(mt, "image/") && mt != "image/svg+xml" {
				schema["format"] = "binary"
			}
			ok["content"].(map[string]any)[mt] = map[string]any{"schema": schema}
		}
		op["responses"] = map[string]any{
			strconv.Itoa(status): ok,
			"default":            map[string]any{"description": "error: {\"error\":{\"code\":...,\"message\":...}}", "content": map[string]any{"application/json": map[string]any{"schema": errRef}}},
		}
		item[strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "veinkiosk central server",
			"version":     "1",
			"description": "ID card + finger-vein filing at community service stations. See docs/api.md.",
		},
		"paths": paths,
		// Every error code with its HTTP status (apiv1.HTTPStatus).
		"x-error-codes": apiv1.ErrorCodes(),
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"kioskSignature": map[string]any{"type": "apiKey", "in": "header", "name": apiv1.HeaderSignature,
					"description": "Ed25519 over veinkiosk/api/request/v1, method, URI, kiosk id, timestamp, nonce and hex SHA-256 of the body, with X-Veinkiosk-Kiosk, -Timestamp (Unix ms) and -Nonce."},
				"staffBearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "token from POST /api/v1/sessions"},
				"officeCookie": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie},
			},
		},
	}
}

func (s *Server) handleOpenAPI(c *fiber.Ctx) error {
	s.openapiOnce.Do(func() {
		s.openapi, s.openapiErr = c.App().Config().JSONEncoder(s.OpenAPI())
	})
	if s.openapiErr != nil {
		return s.openapiErr
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(s.openapi)
}

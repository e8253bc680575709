// Package mapping holds syncgate's field mappings: a YAML spec per flow (embedded defaults in specs/,
// overridable from a directory), compiled once at load and validated against the flow's source
// schema (the seed documents' response fields) and target schema.
//
// # Templates
//
// A target field's template is literal text with {{…}} expressions, concatenated by juxtaposition, in
// the seed documents' syntax:
//
//	{{Name}}{{bfn_num}}            two source fields (through aliases) joined
//	{{LAST_SYNC_TIME datetime}}    a run variable with a modifier (seed form)
//	{{LAST_SYNC_TIME|datetime}}    the same, pipe form
//	{{agentName|trim|upper}}       functions chain left to right
//	{{remark|default:"无"}}        functions take arguments after ':' separated by ','
//	{{FCreateDate|date:"yyyy-MM-dd"}}
//	{{F_FML_Combo|map:balance_types}}   a lookup in a value map declared under target.maps
//	{{agentName|substring:0,20}}
//	PRE001                          a constant
//
// Functions: datetime (yyyy-MM-dd HH:mm:ss, GMT+8), date[:layout], trim, upper, lower, default:value,
// substring:start[,length] (in characters), map:name (unmapped values pass through unless the map has
// a "*" entry). Variables: LAST_SYNC_TIME, CURRENT_TIME, PAGINATION_PAGE_SIZE, PAGINATION_START_ROW,
// PAGINATION_START_PAGE.
//
// The engine is a small lexer and parser of our own rather than text/template, expr or CEL: the seed
// syntax ({{Name}}, {{VAR datetime}}) is not valid in any of them, so each would still need a front
// end that rewrites it, and error positions would then point into rewritten text. The language is
// tiny (names, a pipe of functions), so a direct parser gives exact line:column errors, has no
// side effects by construction, and is fuzzed (FuzzParseTemplate).
package mapping

"""The app's OpenAPI 3.1 document (written out, so it says exactly what the handlers do)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


_AUTH = {"401": _problem("No bearer token, or an unknown one"), "403": _problem("Wrong scope")}
_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}
_CONVERSATION = [
    {
        "name": "conversation",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,128}$"},
    },
    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
]


def _read(summary: str, scope: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": [{"bearer": [scope]}],
            "responses": {"200": _json(schema, "OK"), **_AUTH},
            **extra,
        }
    }


def _act(summary: str, body: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": ["act"]}],
            "parameters": [_TICKET_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": body, "required": required}
                    }
                },
            },
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"ticket": _ref("Ticket")}}, "The ticket now"
                ),
                "400": _problem("An invalid request (``field`` names what was wrong)"),
                "404": _problem("No such ticket"),
                "409": _problem("The ticket's state does not allow it"),
                **_AUTH,
            },
        }
    }


_TEXT = {"type": "string"}
_ACTOR = {"type": "string", "description": "The agent acting"}

_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "An RFC 9457 problem document",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": _TEXT,
            "title": _TEXT,
            "status": {"type": "integer"},
            "detail": _TEXT,
            "field": _nullable("string"),
        },
    },
    "Ingested": {
        "type": "object",
        "required": ["ticket_id", "duplicate", "ignored"],
        "properties": {
            "ticket_id": _nullable("string"),
            "duplicate": {"type": "boolean"},
            "created": {"type": "boolean"},
            "ignored": _nullable("string"),
        },
    },
    "Ticket": {
        "type": "object",
        "required": ["id", "status", "priority", "channel", "version"],
        "properties": {
            "id": _TEXT,
            "status": {"enum": ["new", "open", "pending", "on_hold", "solved", "closed"]},
            "priority": _TEXT,
            "channel": _TEXT,
            "subject": _TEXT,
            "version": {"type": "integer"},
            "assignee": _nullable("string"),
            "group": _nullable("string"),
            "tier": _nullable("string"),
        },
    },
    "QueueRow": {
        "type": "object",
        "required": ["id", "status", "priority", "due", "breached"],
        "properties": {
            "id": _TEXT,
            "subject": _TEXT,
            "status": _TEXT,
            "priority": _TEXT,
            "channel": _TEXT,
            "tier": _nullable("string"),
            "assignee": _nullable("string"),
            "group": _nullable("string"),
            "due": {"type": ["string", "null"], "format": "date-time"},
            "breached": {"type": "boolean"},
            "next_step": {"oneOf": [_ref("NextStep"), {"type": "null"}]},
        },
    },
    "NextStep": {
        "type": "object",
        "required": ["ticket_id", "waiting_on", "action", "owner", "due"],
        "properties": {
            "ticket_id": _TEXT,
            "waiting_on": _TEXT,
            "action": _TEXT,
            "owner": _nullable("string"),
            "group": _nullable("string"),
            "level": _nullable("string"),
            "due": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "ChatMessage": {
        "type": "object",
        "required": ["n", "id", "text", "at"],
        "properties": {
            "n": {"type": "integer", "minimum": 1},
            "id": _TEXT,
            "ticket_id": _TEXT,
            "author": _TEXT,
            "text": _TEXT,
            "at": {"type": "string", "format": "date-time"},
        },
    },
}

_PATHS: dict[str, Any] = {
    "/inbound/{channel}": {
        "post": {
            "summary": "Take one webhook for a registered channel (signed unless configured open)",
            "parameters": [
                {"name": "channel", "in": "path", "required": True, "schema": _TEXT},
                {"name": "X-Supportkit-Timestamp", "in": "header", "schema": _TEXT},
                {"name": "X-Supportkit-Signature", "in": "header", "schema": _TEXT},
            ],
            "requestBody": {
                "required": True,
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": {
                "202": _json(_ref("Ingested"), "Ingested (or a duplicate, or ignored noise)"),
                "400": _problem("The channel could not parse the payload (``field`` says why)"),
                "401": _problem("Unsigned, forged or stale"),
                "404": _problem("No such channel"),
                "409": _problem("A replayed signature"),
                "413": _problem("The body is over the channel's limit"),
            },
        }
    },
    "/conversations/{conversation}/messages": _read(
        "The agents' replies delivered to a chat conversation",
        "chat",
        {
            "type": "object",
            "required": ["conversation_id", "messages"],
            "properties": {
                "conversation_id": _TEXT,
                "messages": {"type": "array", "items": _ref("ChatMessage")},
            },
        },
        parameters=_CONVERSATION,
    ),
    "/conversations/{conversation}/stream": {
        "get": {
            "summary": "The conversation's replies as server-sent events (event 'message')",
            "security": [{"bearer": ["chat"]}],
            "parameters": _CONVERSATION,
            "responses": {
                "200": {
                    "description": "An event stream; each event's data is a ChatMessage",
                    "content": {"text/event-stream": {"schema": _TEXT}},
                },
                **_AUTH,
            },
        }
    },
    "/kb/follow/{token}": {
        "get": {
            "summary": "Follow a tracked article link: record it (article_helped), then "
            "redirect to the article (or, without article_url, answer the link)",
            "parameters": [
                {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["ticket_id", "article_id", "recorded"],
                        "properties": {
                            "ticket_id": _TEXT,
                            "article_id": _TEXT,
                            "recorded": {"type": "boolean"},
                        },
                    },
                    "The link (when the app has no article_url)",
                ),
                "303": {"description": "Redirect to the article (article_url)"},
                "404": _problem("A token the desk did not make, or a changed one"),
            },
        }
    },
    "/": {
        "get": {
            "summary": "The live dashboard (self-contained HTML)",
            "security": [{"bearer": ["read"]}],
            "responses": {
                "200": {"description": "HTML", "content": {"text/html": {"schema": _TEXT}}},
                **_AUTH,
            },
        }
    },
    "/openapi.json": _read("This document", "read", {"type": "object"}),
    "/api/dashboard": _read(
        "The dashboard's figures",
        "read",
        {
            "type": "object",
            "required": ["at", "kpis", "tiers", "tickets", "dead_letters"],
            "properties": {
                "title": _TEXT,
                "at": {"type": "string", "format": "date-time"},
                "kpis": {"type": "object"},
                "tiers": {"type": "array", "items": {"type": "object"}},
                "dead_letters": {"type": "integer"},
                "tickets": {"type": "array", "items": _ref("QueueRow")},
            },
        },
    ),
    "/api/tickets/{ticket_id}": _read(
        "A ticket with its events and SLA evaluation",
        "read",
        {
            "type": "object",
            "required": ["ticket", "events", "sla"],
            "properties": {
                "ticket": _ref("Ticket"),
                "events": {"type": "array", "items": {"type": "object"}},
                "sla": {"type": ["object", "null"]},
            },
        },
        parameters=[_TICKET_ID],
    ),
    "/api/queue": _read(
        "Open tickets, earliest SLA deadline first",
        "read",
        {
            "type": "object",
            "properties": {"tickets": {"type": "array", "items": _ref("QueueRow")}},
        },
    ),
    "/api/next-steps": _read(
        "Who owes what by when, ordered by due time",
        "read",
        {
            "type": "object",
            "properties": {"next_steps": {"type": "array", "items": _ref("NextStep")}},
        },
    ),
    "/api/metrics": _read(
        "A metrics report for a grouping (e.g. tier,week) as of an instant",
        "read",
        {"type": "object", "required": ["tables"], "properties": {"tables": {"type": "object"}}},
        parameters=[
            {"name": "group", "in": "query", "schema": _TEXT},
            {"name": "at", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        ],
    ),
    "/api/outbox/dead": _read(
        "The outbox's dead letters",
        "admin",
        {"type": "object", "properties": {"dead": {"type": "array", "items": {"type": "object"}}}},
    ),
    "/api/tickets/{ticket_id}/reply": _act(
        "Reply as an agent (optionally moving the ticket to a status)",
        {"body": _TEXT, "agent": _TEXT, "public": {"type": "boolean"}, "status": _TEXT},
        ["body"],
    ),
    "/api/tickets/{ticket_id}/status": _act(
        "Change the ticket's status", {"status": _TEXT, "actor": _ACTOR}, ["status"]
    ),
    "/api/tickets/{ticket_id}/assign": _act(
        "Assign the ticket to an agent and/or group",
        {"agent": _TEXT, "group": _TEXT, "actor": _ACTOR},
        [],
    ),
    "/api/tickets/{ticket_id}/escalate": _act(
        "Escalate the ticket",
        {"level": _TEXT, "reason": _TEXT, "target": _TEXT, "actor": _ACTOR},
        ["level", "reason"],
    ),
}


def openapi(title: str) -> dict[str, Any]:
    """The OpenAPI document, titled *title*."""
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{title} HTTP API", "version": "1"},
        "paths": _PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }

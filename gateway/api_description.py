"""The merged OpenAPI document's ``info.description``: what an integrator needs before the first
call, shown at the top of /docs and /redoc. Kept beside the merge so it ships with the package."""

API_DESCRIPTION = """
The one public door to the Better Work platform's assessment, training and reporting services.
Everything is under `/v1`, in JSON; lists are cursor-paged (`?limit=&cursor=` answers
`{items, next_cursor}`; pass `next_cursor` back until it is `null`). The conventions, with the
rule behind operation ids and declared errors, are in the project's `docs/api-conventions.md`.

## Authentication

Send a JWT bearer token on every call: `Authorization: Bearer <token>`. Tokens come from your
identity provider (or, in development, `bw token --role staff`). Its `role` claim says who you
are; `factory_id`, `brand_id` or `country` narrow it where the role needs one. Without a token
only the public aggregate reports answer; a missing, expired or malformed token elsewhere is a
`401`, a role the operation does not admit a `403`. Use **Authorize** above to try calls here.

```sh
curl -H "Authorization: Bearer $TOKEN" https://bw.example.org/v1/factories?limit=20
```

## Roles

| role | may |
| --- | --- |
| `admin` | everything, including the audit logs |
| `staff` | enterprise advisors: assess, advise, train (in their token's `country`, if any) |
| `factory` | its own factory, consents, training, plans; its assessments from factory review |
| `brand` | factories that share data with it (consent), their published assessments only |
| `constituent` | catalogues, seminars, aggregates and published reports |
| `service` | other systems: reads |
| anonymous | public aggregates, small cells withheld |

Each operation lists the roles it admits under `x-access`. An object you may not see answers
`404`, exactly like one that does not exist.

## The assessment lifecycle

```
scheduled -> in_progress -> draft -> factory_review -> published
                               \\--------------------> published
any state before published -> cancelled;  factory_review -> draft (comments sent back)
```

Move an assessment with `POST /v1/assessments/{id}/transitions` `{"to": "in_progress"}`; the
assessment's `allowed_transitions` lists the legal next states, anything else is `409`.
**Findings are taken only while the assessment is `in_progress` or `draft`**; in any other
state a write to its findings answers `409`. `published` and `cancelled` are final: correct a
published assessment by creating a revision (`POST /v1/assessments/{id}/revisions`).

## ETags and If-Match: no lost updates

Every mutable resource answers with an `ETag`. To change it (PATCH, PUT, a transition, a
finding), send that value back as `If-Match`. Without it the answer is `428 Precondition
Required`; if someone changed the resource since you read it, `412 Precondition Failed`: read it
again, reapply your change, retry. Findings are guarded by their assessment's ETag, and each
write answers with the assessment's new one.

```sh
curl -i -H "Authorization: Bearer $TOKEN" https://bw.example.org/v1/assessments/asm_01J...
#   ETag: "asm_01J....v3"
curl -X POST -H "Authorization: Bearer $TOKEN" -H 'If-Match: "asm_01J....v3"' \\
     -H 'Content-Type: application/json' -d '{"to": "draft"}' \\
     https://bw.example.org/v1/assessments/asm_01J.../transitions
```

## Idempotency-Key: safe retries of creates

Every POST that creates (answers `201` with a `Location`) takes an `Idempotency-Key` header:
a unique value (a UUID) per intended create. If the connection drops, retry with the same key
and body: the first answer is replayed (`Idempotent-Replayed: true`) and nothing is created
twice. The same key with another body is `422`; while the first attempt still runs, `409`.
Keys are kept for a day, per caller.

```sh
curl -X POST -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: $(uuidgen)" \\
     -H 'Content-Type: application/json' \\
     -d '{"factory_id": "fac_01J...", "catalog_id": "cat_01J...",
          "visit_start": "2024-06-03", "visit_end": "2024-06-04"}' \\
     https://bw.example.org/v1/assessments
```

## Errors

Every error is an RFC 9457 `application/problem+json` document (`type`, `title`, `status`,
`detail`, `instance`, `request_id`, and `errors` naming each field for a `422`). Each operation
lists the errors it can return. The gateway may answer any operation with `429` (rate
limited) or `503` (a service unavailable), both with `Retry-After` in seconds, and `504` when a
service is too slow; a write without an `Idempotency-Key` may get `502` when the service's
answer broke off after the write was sent (it may have been applied: read before retrying).
Send `X-Request-ID` to trace a call; it is echoed on every answer.
""".strip()

// A small typed client over the generated types, as a frontend team writes one: if the
// contract's names, headers or shapes change, this stops compiling (`tsc --noEmit --strict`).
import createClient from "openapi-fetch";
import type { components, paths } from "./build/schema";

type Assessment = components["schemas"]["AssessmentRead"];
type AssessmentStatus = components["schemas"]["AssessmentStatus"];
type FactoryPage = components["schemas"]["FactoryPage"];
type Problem = components["schemas"]["ProblemDetails"];

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });
const auth = { Authorization: "Bearer <token>" };

export async function firstFactoryIds(): Promise<string[]> {
  const { data, error } = await client.GET("/v1/factories", {
    params: { query: { limit: 20 } },
    headers: auth,
  });
  if (error) throw new Error((error as Problem).detail);
  const page: FactoryPage = data;
  return page.items.map((factory) => factory.id);
}

export async function scheduleAssessment(
  factoryId: string,
  catalogId: string,
  idempotencyKey: string,
): Promise<{ assessment: Assessment; etag: string | null }> {
  const { data, error, response } = await client.POST("/v1/assessments", {
    params: { header: { "Idempotency-Key": idempotencyKey } },
    headers: auth,
    body: {
      factory_id: factoryId,
      catalog_id: catalogId,
      visit_start: "2024-06-03",
      visit_end: "2024-06-04",
    },
  });
  if (error) throw new Error(error.detail);
  return { assessment: data, etag: response.headers.get("ETag") };
}

export async function moveAssessment(
  assessment: Assessment,
  etag: string,
  to: AssessmentStatus,
): Promise<Assessment> {
  if (!assessment.allowed_transitions.includes(to)) {
    throw new Error(`${assessment.status} cannot go to ${to}`);
  }
  const { data, error } = await client.POST("/v1/assessments/{assessment_id}/transitions", {
    params: { path: { assessment_id: assessment.id }, header: { "If-Match": etag } },
    headers: auth,
    body: { to, reason: null },
  });
  if (error) throw new Error(`${error.status} ${error.type}: ${error.detail}`);
  return data;
}

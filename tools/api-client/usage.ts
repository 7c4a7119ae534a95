// What a frontend writes against the client generated from /api/openapi.json (see docs/api.md, "API
// documentation"): `tsc` must accept all of it, and reject what the @ts-expect-error lines do.
import type { components, operations, paths } from "./generated/api";

type Schemas = components["schemas"];

// Optional fields with a server default stay optional in a request.
export const search: Schemas["TalentSearch"] = { q: "Asha", skills: ["Kathak"] };
export const otp: Schemas["OtpSend"] = { phone: "+919876543210" };

// The contract's paths, without a trailing slash; answers typed by status.
type TalentPage = paths["/api/talents"]["get"]["responses"][200]["content"]["application/json"];
export const cityOfFirst = (page: TalentPage): string | undefined => page.items[0]?.location?.city ?? undefined;
export const totalOf = (page: TalentPage): number => page.meta.total;

// Operations by their operationId; a 429 with its Retry-After header.
type ListTalents = operations["talents_talent_get"];
export const query: NonNullable<ListTalents["parameters"]["query"]> = { city: "Mumbai", page: 2 };
export const retryAfter = (headers: ListTalents["responses"][429]["headers"]): number | undefined =>
  headers["Retry-After"];

// The photo upload: `kind` is a typed field of the multipart body, beside the file.
type Upload = paths["/api/talents/{talent_id}/media"]["post"]["requestBody"]["content"]["multipart/form-data"];
export const upload: Upload = { kind: "headshot", file: "<binary>" };
// @ts-expect-error `kind` is one of the documented values
export const wrongKind: Upload = { kind: "avatar", file: "<binary>" };

// Enums are typed, and a nullable one admits null.
export const gender: Schemas["Talent"]["gender"] = null;
// @ts-expect-error not a documented availability
export const availability: Schemas["Talent"]["availability_status"] = "on_leave";

// The error envelope.
export const codeOf = (error: Schemas["Error"]): string => error.code;

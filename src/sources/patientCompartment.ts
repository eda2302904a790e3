/**
 * The FHIR R4 (4.0.1) Patient compartment: for each resource type that can be in a patient's
 * compartment, the search parameters whose value links a resource of that type to the patient.
 * A resource is in `Patient/x`'s compartment when any of these parameters references `Patient/x`.
 *
 * Source: the specification's CompartmentDefinition/patient (version 4.0.1). Types not listed are
 * never in the compartment. `Patient` itself is in its own compartment by identity (`_id`); the
 * definition also names `link`, which adds linked Patient resources — we select Patients by `_id`
 * only (see docs/fhir-rest-source.md).
 */
export const PATIENT_COMPARTMENT: Readonly<Record<string, readonly string[]>> = Object.freeze({
  Account: ['subject'],
  AdverseEvent: ['subject'],
  AllergyIntolerance: ['patient', 'recorder', 'asserter'],
  Appointment: ['actor'],
  AppointmentResponse: ['actor'],
  AuditEvent: ['patient'],
  Basic: ['patient', 'author'],
  BodyStructure: ['patient'],
  CarePlan: ['patient', 'performer'],
  CareTeam: ['patient', 'participant'],
  ChargeItem: ['subject'],
  Claim: ['patient', 'payee'],
  ClaimResponse: ['patient'],
  ClinicalImpression: ['subject'],
  Communication: ['subject', 'sender', 'recipient'],
  CommunicationRequest: ['subject', 'sender', 'recipient', 'requester'],
  Composition: ['subject', 'author', 'attester'],
  Condition: ['patient', 'asserter'],
  Consent: ['patient'],
  Coverage: ['policy-holder', 'subscriber', 'beneficiary', 'payor'],
  CoverageEligibilityRequest: ['patient'],
  CoverageEligibilityResponse: ['patient'],
  DetectedIssue: ['patient'],
  DeviceRequest: ['subject', 'performer'],
  DeviceUseStatement: ['subject'],
  DiagnosticReport: ['subject'],
  DocumentManifest: ['subject', 'author', 'recipient'],
  DocumentReference: ['subject', 'author'],
  Encounter: ['patient'],
  EnrollmentRequest: ['subject'],
  EpisodeOfCare: ['patient'],
  ExplanationOfBenefit: ['patient', 'payee'],
  FamilyMemberHistory: ['patient'],
  Flag: ['patient'],
  Goal: ['patient'],
  Group: ['member'],
  ImagingStudy: ['patient'],
  Immunization: ['patient'],
  ImmunizationEvaluation: ['patient'],
  ImmunizationRecommendation: ['patient'],
  Invoice: ['subject', 'patient', 'recipient'],
  List: ['subject', 'source'],
  MeasureReport: ['patient'],
  Media: ['subject'],
  MedicationAdministration: ['patient', 'performer', 'subject'],
  MedicationDispense: ['subject', 'patient', 'receiver'],
  MedicationRequest: ['subject'],
  MedicationStatement: ['subject'],
  MolecularSequence: ['patient'],
  NutritionOrder: ['patient'],
  Observation: ['subject', 'performer'],
  Patient: ['_id'],
  Person: ['patient'],
  Procedure: ['patient', 'performer'],
  Provenance: ['patient'],
  QuestionnaireResponse: ['subject', 'author'],
  RelatedPerson: ['patient'],
  RequestGroup: ['subject', 'participant'],
  ResearchSubject: ['individual'],
  RiskAssessment: ['subject'],
  Schedule: ['actor'],
  ServiceRequest: ['subject', 'performer'],
  Specimen: ['subject'],
  SupplyDelivery: ['patient'],
  SupplyRequest: ['subject'],
  Task: ['patient', 'focus'],
  VisionPrescription: ['patient'],
});

/** Resource types that can be in a patient compartment, in alphabetical order. */
export const PATIENT_COMPARTMENT_TYPES: readonly string[] = Object.freeze(
  Object.keys(PATIENT_COMPARTMENT).sort(),
);

/** Whether resources of `resourceType` can belong to a patient compartment. */
export function isInPatientCompartment(resourceType: string): boolean {
  return Object.prototype.hasOwnProperty.call(PATIENT_COMPARTMENT, resourceType);
}

/**
 * The search parameters linking `resourceType` to a patient (`_id` for Patient itself);
 * an empty list when the type is never in the compartment.
 */
export function patientCompartmentParams(resourceType: string): readonly string[] {
  return isInPatientCompartment(resourceType) ? PATIENT_COMPARTMENT[resourceType] : [];
}

from marshmallow import Schema, fields, validate

from casting.kernel.numbers import Int32
from casting.kernel.pagination import PageArgsSchema
from casting.safety.models import FlagSource, FlagStatus, FlagTarget, ReportReason
from casting.kernel.sorting import sort_field
from casting.kernel.fields import PlainTextField

REPORTABLE = [FlagTarget.MESSAGE.value, FlagTarget.PRODUCTION.value, FlagTarget.USER.value]


class ReportSchema(Schema):
    target_type = fields.String(required=True, validate=validate.OneOf(REPORTABLE),
                                metadata={"example": "message", "description": "`message`, `production` or `user`."})
    target_id = Int32(required=True, validate=validate.Range(min=1), metadata={"example": 1201})
    reason = fields.Enum(ReportReason, by_value=True, required=True, metadata={"example": "money_request"})
    note = PlainTextField(validate=validate.Length(max=2000), allow_none=True,
                          metadata={"example": "He asked for ₹2,000 to 'confirm' my audition slot."})


class ReportReceiptSchema(Schema):
    id = Int32(required=True, metadata={"example": 17})
    target_type = fields.Enum(FlagTarget, by_value=True, required=True)
    target_id = Int32(required=True)
    reason = fields.Enum(ReportReason, by_value=True, allow_none=True)
    status = fields.Enum(FlagStatus, by_value=True, required=True)
    created_at = fields.DateTime(required=True)


class FlagSchema(ReportReceiptSchema):
    source = fields.Enum(FlagSource, by_value=True, required=True, metadata={
        "description": "`report` (a user's) or `shield` (the scam shield's)."})
    subject_id = Int32(allow_none=True, metadata={
        "description": "The account answerable: the message's sender, the production's owner, the user."})
    reporter_id = Int32(allow_none=True)
    note = fields.String(allow_none=True)
    findings = fields.Dict(allow_none=True, metadata={"description": "The shield's reasons and rule ids."})
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = Int32(allow_none=True)
    outcome_note = fields.String(allow_none=True)


class FlagQueryArgsSchema(PageArgsSchema):
    status = fields.Enum(FlagStatus, by_value=True)
    source = fields.Enum(FlagSource, by_value=True)
    target_type = fields.Enum(FlagTarget, by_value=True)
    subject_id = Int32()
    sort = sort_field(["created_at", "resolved_at", "status", "source", "target_type"], "status,created_at")


class ResolveSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf([FlagStatus.UPHELD.value,
                                                                    FlagStatus.DISMISSED.value]),
                            metadata={"example": "upheld"})
    note = PlainTextField(validate=validate.Length(max=1000), allow_none=True,
                          metadata={"example": "Asked three talents for 'registration' money."})


class VerificationSchema(Schema):
    note = PlainTextField(required=True, validate=validate.Length(min=3, max=1000), metadata={
        "example": "CDA (Casting Directors Association) membership no. 1234, checked by phone.",
        "description": "The evidence checked; kept encrypted, seen by nobody outside the admins."})

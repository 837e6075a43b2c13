"""Merchant onboarding: an application checked against the registry, then a regulator's review.

`register_merchant` creates the owner's account, the merchant (PENDING_REVIEW)
and its stores in one transaction, after checking the credit code's form and
GB 32100-2015 check character. The registry check never refuses an
application: it records what matched and what did not, in words a reviewer
can act on, and the regulator decides.

A rejected applicant applies again the same way: the new application is a new
merchant, and the rejected one stays as it was, audit trail included. Its
owner keeps the account (same phone, same password), which moves to the new
application.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth import scoping
from core import clock, public_cache, text
from core.errors import BadInput, InvalidState, NotFound
from core.principal import Principal
from models import Category, Merchant, RegistryRecord, User
from models.enums import MerchantStatus, Role
from services import accounts, audit, credit_scores, limits
from services.credit_code import problem_with
from services.stores import MAX_NAME_LENGTH, StoreDraft, clean_store, open_stores
from settings import get_settings

OPERATING_STATUS = "存续"
# Registries write "in operation" several ways: 存续（在营、开业、在册）, 在业, 开业 ...
OPERATING_SYNONYMS = ("存续", "在业", "在营", "开业", "在册")
# Full-width and half-width brackets, spaces: the same name written two ways.
_NAME_FOLD = str.maketrans({"（": "(", "）": ")", "\u3000": "", " ": ""})


def same_name(registered: str, applied: str) -> bool:
    return registered.translate(_NAME_FOLD) == applied.translate(_NAME_FOLD)


def is_operating(registration_status: str) -> bool:
    return registration_status.strip().startswith(OPERATING_SYNONYMS)


MIN_MONTHS_ESTABLISHED = 6
MAX_STORES_PER_APPLICATION = 200


@dataclass(frozen=True)
class Application:
    name: str
    credit_code: str
    legal_representative: str
    category_code: str
    contact_phone: str
    password: str
    stores: list[StoreDraft]


@dataclass(frozen=True)
class Registration:
    merchant: Merchant
    session: accounts.Session


@dataclass(frozen=True)
class ReturningOwner:
    """The owner of a rejected application who applies again, signed in with its password."""

    user_id: int
    phone: str
    rejected_merchant_id: int
    login: accounts.Session


def registry_findings(
    record: RegistryRecord | None, name: str, legal_representative: str, today: dt.date
) -> list[str]:
    """What differs between an application and the registry; empty when everything matches."""
    if record is None:
        return ["The registry has no business with this credit code"]
    findings = []
    if not same_name(record.name, name):
        findings.append(
            f"Name differs: the registry has 「{record.name}」, the application 「{name}」"
        )
    if not same_name(record.legal_representative, legal_representative):
        findings.append(
            f"Legal representative differs: the registry has 「{record.legal_representative}」, "
            f"the application 「{legal_representative}」"
        )
    if not is_operating(record.registration_status):
        findings.append(
            f"Registration status is 「{record.registration_status}」, not 「{OPERATING_STATUS}」 "
            "(in operation)"
        )
    if record.established_on > _months_before(today, MIN_MONTHS_ESTABLISHED):
        findings.append(
            f"Established on {record.established_on.isoformat()}, less than "
            f"{MIN_MONTHS_ESTABLISHED} months ago"
        )
    if record.on_abnormal_list:
        findings.append("Listed on the abnormal-operations list (经营异常名录)")
    return findings


def _platform_today() -> dt.date:
    """Today in the platform's time zone: the registry's dates are local calendar dates, and
    from 16:00 UTC on, Shanghai is already a day ahead of the UTC date."""
    return clock.now().astimezone(ZoneInfo(get_settings().timezone)).date()


def _months_before(day: dt.date, months: int) -> dt.date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for last_day in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, last_day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


async def register_merchant(
    application: Application, *, client_address: str | None = None
) -> Registration:
    """Create the owner's account, the application and its stores; nothing when input is bad."""
    await limits.count_registration(client_address)
    credit_code = application.credit_code.strip().upper()
    problem = problem_with(credit_code)
    if problem:
        raise BadInput(f"Invalid unified social credit code: {problem}")
    name = text.bounded(application.name, "merchant name", MAX_NAME_LENGTH)
    legal_representative = text.bounded(
        application.legal_representative, "legal representative", 64
    )
    if not application.stores:
        raise BadInput("An application names at least one store")
    if len(application.stores) > MAX_STORES_PER_APPLICATION:
        raise BadInput(f"An application names at most {MAX_STORES_PER_APPLICATION} stores")
    stores = [clean_store(store) for store in application.stores]
    if not await Category.exists(code=application.category_code):
        raise BadInput(f"No category with code {application.category_code!r}")
    # A rejected application holds its credit code no more (models.Merchant).
    if await Merchant.exists(credit_code=credit_code, status__not=MerchantStatus.REJECTED):
        raise BadInput("A merchant with this credit code is already registered")
    record = await RegistryRecord.get_or_none(credit_code=credit_code)
    findings = registry_findings(record, name, legal_representative, _platform_today())
    owner = await _owner_account(application, legal_representative, client_address)
    try:
        return await _create_application(
            application, owner, credit_code, name, legal_representative, stores, findings
        )
    except Exception as error:
        if isinstance(owner, ReturningOwner):
            # The sign-in that proved the password must not outlive the failed application.
            await accounts.logout(owner.login.refresh_token)
        if isinstance(error, IntegrityError):
            # Two applications with one credit code (or one phone) raced; the other won.
            raise BadInput(
                "A merchant with this credit code or phone is already registered"
            ) from None
        raise


async def _owner_account(
    application: Application, legal_representative: str, client_address: str | None
) -> accounts.NewAccount | ReturningOwner:
    """A new account, or the account of a rejected application's owner applying again: that
    one signs in with its password, so a wrong one counts as a failed login."""
    phone = accounts.check_phone(application.contact_phone)
    rejected_owner = await User.get_or_none(
        phone=phone, is_merchant_owner=True, merchant__status=MerchantStatus.REJECTED
    )
    if rejected_owner is None or rejected_owner.merchant_id is None:
        return await accounts.prepare_account(
            phone=phone, password=application.password, display_name=legal_representative
        )
    login = await accounts.login(
        phone=phone, password=application.password, client_address=client_address
    )
    return ReturningOwner(rejected_owner.id, phone, rejected_owner.merchant_id, login)


async def _create_application(
    application: Application,
    owner: accounts.NewAccount | ReturningOwner,
    credit_code: str,
    name: str,
    legal_representative: str,
    stores: list[StoreDraft],
    findings: list[str],
) -> Registration:
    async with in_transaction():
        merchant = await Merchant.create(
            name=name,
            credit_code=credit_code,
            legal_representative=legal_representative,
            category_id=application.category_code,
            contact_phone=owner.phone,
            status=MerchantStatus.PENDING_REVIEW,
            registry_verified=not findings,
            registry_findings=findings,
            created_at=clock.now(),
        )
        await open_stores(merchant.id, stores)
        if isinstance(owner, ReturningOwner):
            session = await _move_owner(owner, merchant.id, legal_representative)
        else:
            user = await accounts.insert_user(
                owner, role=Role.MERCHANT, merchant_id=merchant.id, is_merchant_owner=True
            )
            session = await accounts.start_session(user)
    await public_cache.changed(public_cache.MERCHANTS, public_cache.merchant_family(merchant.id))
    return Registration(merchant=merchant, session=session)


async def _move_owner(
    owner: ReturningOwner, merchant_id: int, legal_representative: str
) -> accounts.Session:
    """Make the rejected application's owner the new one's; its session now names the new one."""
    # Claimed with an UPDATE that matches the account only while it still owns the rejected
    # application: of two applications racing with one account, one moves it.
    moved = await User.filter(
        id=owner.user_id, merchant_id=owner.rejected_merchant_id, is_merchant_owner=True
    ).update(merchant_id=merchant_id, display_name=legal_representative)
    if moved != 1:
        raise BadInput("This account applied again meanwhile")
    return await accounts.refresh_session(owner.login.refresh_token)


async def review_merchant(
    principal: Principal, merchant_id: int, *, approve: bool, reason: str | None
) -> Merchant:
    """Approve (the merchant goes public) or reject an application waiting for review."""
    merchant = await scoping.reviewable_merchants(principal).get_or_none(id=merchant_id)
    if merchant is None:
        raise NotFound("No such merchant")
    if merchant.status is not MerchantStatus.PENDING_REVIEW:
        raise InvalidState(f"The merchant is {merchant.status.value}, not waiting for review")
    reason = text.reason(reason, required=False)
    if not approve and not reason:
        raise BadInput("Say why the application is rejected")
    if approve and not merchant.registry_verified and not reason:
        raise BadInput("Say why an application with registry findings is approved")
    new_status = MerchantStatus.ACTIVE if approve else MerchantStatus.REJECTED
    async with in_transaction():
        claimed = await Merchant.filter(
            id=merchant.id, status=MerchantStatus.PENDING_REVIEW
        ).update(status=new_status, status_reason=reason, reviewed_at=clock.now())
        if claimed != 1:
            raise InvalidState("The application was reviewed meanwhile")
        await audit.record(
            actor_id=principal.require_user(),
            action="MERCHANT_APPROVED" if approve else "MERCHANT_REJECTED",
            subject_type="Merchant",
            subject_id=merchant.id,
            merchant_id=merchant.id,
            reason=reason,
            details={"registryVerified": merchant.registry_verified},
        )
        if approve:
            # In the approval's transaction: an approved merchant has a score at once.
            await credit_scores.recompute(merchant.id)
    await public_cache.changed(public_cache.CATEGORIES, public_cache.MERCHANTS)
    return await Merchant.get(id=merchant.id)

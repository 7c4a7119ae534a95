"""The scam shield on fee demands (issue 20): the usual phrasings in English, Hindi (Devanagari) and Hinglish
are caught, ordinary postings are not, and no demo posting is ever flagged."""
import pytest
from sqlalchemy import select

from casting.kernel.extensions import db
from casting.productions.models import CastingRole, Production
from casting.safety import shield
from casting.seeding import DEMO_PRODUCTIONS

FEE_DEMANDS = [
    # pay after selection
    "Selected candidates will have to pay a registration fee of Rs 3,000.",
    "After selection, a one-time registration fee of ₹2,500 is payable.",
    "You need to pay only after selection: ₹4,000 for the artist card and grooming.",
    "Upon selection you will be required to make a payment of ₹6,000 for the ID card and registration.",
    "On confirmation of selection, kindly deposit 3,000 INR as security.",
    "Shortlisted artists must pay ₹5,000 towards their portfolio.",
    "Once you are selected, pay 2500 to the coordinator to get the contract.",
    "Registration is compulsory for selected candidates: Rs. 2000 only.",
    # registration / processing / portfolio / membership charges
    "Pay after selection. Processing charges are Rs 1,999.",
    "Membership charges of ₹999 apply to every selected model.",
    "Portfolio charges 7500/- (includes makeup and photographer).",
    "Final selection is subject to payment of the membership fee.",
    # refundable deposits
    "Once shortlisted, a refundable deposit of ₹10,000 is required to block your dates.",
    "A deposit of Rs 5,000, fully refundable after the shoot, confirms the role.",
    "Kindly pay the refundable deposit of ₹5,000 in advance.",
    "Selected talent pays a refundable amount of 15000 which is returned after the shoot.",
    # Hinglish
    "Selection ke baad 3000 registration fees deni hogi.",
    "Select hone par 5000 rupaye jama karne honge, shoot ke baad wapas mil jayenge.",
    "Shortlist hone ke baad portfolio charges 6000 lagenge.",
    "Audition free hai, bas selection ke baad 2500 processing fee bharni padegi.",
    "Refundable deposit 10000 dena hoga, kaam khatam hone par wapas.",
    "Membership ka 999 lagega, uske baad hi role milega.",
    "Final selection ke liye 1500 ka payment karna padega.",
    "Registration charge 1000 hai, selection pakka.",
    # Hindi
    "चयन के बाद 3000 रुपये पंजीकरण शुल्क देना होगा।",
    "चयनित कलाकारों को 5000 रुपये की वापसी योग्य जमा राशि देनी होगी।",
    "सिलेक्शन के बाद प्रोसेसिंग चार्ज 1500 रुपये लगेगा।",
    "मेंबरशिप फीस 999 रुपये जमा करने के बाद ही रोल मिलेगा।",
    "रिफंडेबल डिपॉजिट 10,000 रुपये है, शूटिंग के बाद लौटा दिया जाएगा।",
    "पोर्टफोलियो के लिए 7000 रुपये देने होंगे।",
]

ORDINARY = [
    "Selected candidates will be paid ₹5,000 per day.",
    "After selection, the production pays for travel and a hotel stay in Delhi.",
    "There is no registration fee, no portfolio charge and no deposit at any stage.",
    "Paid role: ₹15,000 per shoot day, paid within 30 days of the shoot.",
    "Shortlisted actors will be called for a look test; travel is reimbursed.",
    "Selection is on merit alone; we never ask for money.",
    "The artist's fee is ₹40,000 for one shoot day plus one year of usage.",
    "Payment after selection is made directly to your bank account by the production.",
    "Please keep your dates free; advance notice of the schedule will be given.",
    "We will pay a 30% advance on signing and the rest after the shoot.",
    "Agency membership is free for selected models.",
    "Selected actors get ₹2,00,000 for the season.",
    "Processing of applications takes a week after the audition.",
    "Costume fittings after selection; costumes are provided by the production.",
    "The registration for the workshop closes on 5 March.",
    "Your train tickets are refundable if the shoot moves.",
    "A budget of Rs. 1.5 lakh per episode is set aside for the lead.",
    "Selection ke baad contract sign hoga aur payment production ki taraf se har hafte milega.",
    "Koi registration fees nahi hai, audition bilkul free hai.",
    "Select hone par ₹20,000 per day milenge, travel aur stay production dega.",
    "Shortlist hone ke baad look test Mumbai mein hoga, ticket hum bhejenge.",
    "चयनित कलाकारों को प्रति दिन 5000 रुपये का भुगतान किया जाएगा।",
    "ऑडिशन और पंजीकरण पूरी तरह निःशुल्क है।",
    "चयन के बाद यात्रा और ठहरने का खर्च प्रोडक्शन देगा।",
    "कोई फीस नहीं ली जाएगी।",
]


@pytest.mark.parametrize("text", FEE_DEMANDS)
def test_fee_demands_are_caught_however_they_are_phrased(text):
    verdict = shield.verdict(text)
    assert verdict is not None and all(rule.startswith("money.") for rule in verdict["rules"])
    assert "after selection" in verdict["advice"]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_postings_about_pay_and_selection_are_not_flagged(text):
    assert shield.verdict(text) is None


def test_a_rupee_abbreviation_does_not_end_the_sentence_that_demands_the_sum():
    assert "money.fee" in [rule.id for rule in shield.matching_rules("Registration is compulsory: Rs. 2000 only.")]
    # and a clean sentence before a fee demand does not excuse it
    assert shield.verdict("There is no audition fee. Selected candidates pay Rs. 2000 for registration.")


def _demo_texts():
    for production in DEMO_PRODUCTIONS:
        yield production["title"], production.get("description")
        for role in production["roles"]:
            yield role["name"], role.get("description")


def test_the_demo_data_has_real_postings_to_test_against():
    texts = [text for _, text in _demo_texts() if text]
    assert len(texts) >= 10 and any("₹" in text for text in texts) and any("चयन" in text for text in texts)


@pytest.mark.parametrize("name, text", list(_demo_texts()))
def test_no_demo_posting_is_flagged(name, text):
    assert shield.verdict(name, text or "") is None


def test_the_shield_flags_none_of_the_seeded_demo_postings(app, runner):
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        productions = db.session.scalars(select(Production)).all()
        roles = db.session.scalars(select(CastingRole)).all()
        assert len(productions) == len(DEMO_PRODUCTIONS) and len(roles) == 6
        for item in (*productions, *roles):
            assert shield.verdict(getattr(item, "title", None) or item.name, item.description or "") is None


def test_a_role_asking_selected_candidates_for_a_fee_is_held_and_an_ordinary_one_published(client, login):
    director, talent = login("casting_director"), login("talent")
    film = {"title": "Monsoon Wedding 2", "type": "film", "language": "Hindi", "status": "casting"}
    production = client.post("/api/productions/", headers=director, json=film).json["id"]
    roles = f"/api/productions/{production}/roles"
    scam = client.post(roles, headers=director, json={
        "name": "Lead", "description": "Only selected candidates need to pay the registration of ₹3,000 after "
                                       "the audition."}).json
    hinglish = client.post(roles, headers=director, json={
        "name": "Sister", "description": "Select hone par 5000 rupaye jama karne honge."}).json
    fine = client.post(roles, headers=director, json={
        "name": "Friend", "description": "Selected candidates will be paid ₹5,000 per day; no fees at any stage."}).json
    assert scam["held_for_review"] and hinglish["held_for_review"] and not fine["held_for_review"]
    seen = [role["id"] for role in client.get(roles, headers=talent).json["items"]]
    assert seen == [fine["id"]]

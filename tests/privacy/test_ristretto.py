"""Known-answer tests for the ristretto255 binding and RFC 9380 hash-to-group.

Vector sources: RFC 9496 Appendix A.1 (multiples of the generator), A.2 (invalid encodings), A.3 (one-way map from
64-byte strings; the RFC's inputs are the SHA-512 digests of the labels below, which the first entry pins);
RFC 9380 Appendix K.3 (expand_message_xmd with SHA-512); RFC 9497 Appendix A.1.1 (OPRF(ristretto255, SHA-512):
``BlindedElement = Blind * hash_to_ristretto255(Input)``, the published vectors that exercise
hash_to_ristretto255 end to end, since RFC 9380 itself has none for this suite).
"""

from __future__ import annotations

import hashlib

import pytest

from tierflow.privacy import ristretto as r

A1 = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
    "44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
    "903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
    "02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
    "20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
    "bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
    "e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
    "aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
    "46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
    "e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
]

A2_INVALID = [
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
    "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
    "c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
    "47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
    "f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
    "87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
    "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
    "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
    "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
    "bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
    "2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
    "f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
    "8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
    "2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
    "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
    "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
    "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
    "8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
    "32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
    "227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
    "5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
    "445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]

A3_LABELS_AND_OUTPUTS = [
    ("Ristretto is traditionally a short shot of espresso coffee",
     "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46"),
    ("made with the normal amount of ground coffee but extracted with",
     "f26e5b6f7d362d2d2a94c5d0e7602cb4773c95a2e5c31a64f133189fa76ed61b"),
    ("about half the amount of water in the same amount of time",
     "006ccd2a9e6867e6a2c5cea83d3302cc9de128dd2a9a57dd8ee7b9d7ffe02826"),
    ("by using a finer grind.",
     "f8f0c87cf237953c5890aec3998169005dae3eca1fbb04548c635953c817f92a"),
    ("This produces a concentrated shot of coffee per volume.",
     "ae81e7dedf20a497e10c304a765c1767a42d6e06029758d2d7e8ef7cc4c41179"),
    ("Just pulling a normal shot short will produce a weaker shot",
     "e2705652ff9f5e44d3e841bf1c251cf7dddb77d140870d1ab2ed64f1a9ce8628"),
    ("and is not a Ristretto as some believe.",
     "80bd07262511cdde4863f8a7434cef696750681cb9510eea557088f76d9e5065"),
]  # fmt: skip
A3_FIRST_INPUT = (
    "5d1be09e3d0c82fc538112490e35701979d99e06ca3e2b5b54bffe8b4dc772c1"
    "4d98b696a1bbfb5ca32c436cc61c16563790306c79eaca7705668b47dffe5bb6"
)

K3_DST = b"QUUX-V01-CS02-with-expander-SHA512-256"
K3 = [
    (b"", 0x20, "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"),
    (b"abc", 0x20, "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"),
    (b"abcdef0123456789", 0x20, "087e45a86e2939ee8b91100af1583c4938e0f5fc6c9db4b107b83346bc967f58"),
    (b"q128_" + b"q" * 128, 0x20, "7336234ee9983902440f6bc35b348352013becd88938d2afec44311caf8356b3"),
    (b"a512_" + b"a" * 512, 0x20, "57b5f7e766d5be68a6bfe1768e3c2b7f1228b3e4b3134956dd73a59b954c66f4"),
    (b"", 0x80, "41b037d1734a5f8df225dd8c7de38f851efdb45c372887be655212d07251b921b052b62eaed99b46f72f2ef4cc96bfaf"
                "254ebbbec091e1a3b9e4fb5e5b619d2e0c5414800a1d882b62bb5cd1778f098b8eb6cb399d5d9d18f5d5842cf5d13d7e"
                "b00a7cff859b605da678b318bd0e65ebff70bec88c753b159a805d2c89c55961"),
    (b"abc", 0x80, "7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11bdd7732d8b38adb4a0edc26a0cef4bb4"
                   "5217135456e58fbca1703cd6032cb1347ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b48843"
                   "1851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1"),
    (b"abcdef0123456789", 0x80,
     "3f721f208e6199fe903545abc26c837ce59ac6fa45733f1baaf0222f8b7acb0424814fcb5eecf6c1d38f06e9d0a6ccfbf85ae612ab8735df"
     "df9ce84c372a77c8f9e1c1e952c3a61b7567dd0693016af51d2745822663d0c2367e3f4f0bed827feecc2aaf98c949b5ed0d35c3f1023d6"
     "4ad1407924288d366ea159f46287e61ac"),
    (b"q128_" + b"q" * 128, 0x80,
     "b799b045a58c8d2b4334cf54b78260b45eec544f9f2fb5bd12fb603eaee70db7317bf807c406e26373922b7b8920fa29142703dd52bdf280"
     "084fb7ef69da78afdf80b3586395b433dc66cde048a258e476a561e9deba7060af40adf30c64249ca7ddea79806ee5beb9a1422949471d2"
     "67b21bc88e688e4014087a0b592b695ed"),
    (b"a512_" + b"a" * 512, 0x80,
     "05b0bfef265dcee87654372777b7c44177e2ae4c13a27f103340d9cd11c86cb2426ffcad5bd964080c2aee97f03be1ca18e30a1f14e27bc1"
     "1ebbd650f305269cc9fb1db08bf90bfc79b42a952b46daf810359e7bc36452684784a64952c343c52e5124cd1f71d474d5197fefc571a92"
     "929c9084ffe1112cf5eea5192ebff330b"),
]  # fmt: skip

RFC9497_DST = b"HashToGroup-OPRFV1-\x00-ristretto255-SHA512"
RFC9497_BLIND = bytes.fromhex("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706")
RFC9497 = [
    (bytes.fromhex("00"), "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c"),
    (bytes.fromhex("5a" * 17), "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418"),
]


def scalar(n: int) -> bytes:
    return n.to_bytes(32, "little")


def test_a1_multiples_of_the_generator() -> None:
    base = bytes.fromhex(A1[1])
    with pytest.raises(r.GroupError):
        r.scalarmult_base(scalar(0))
    point = base
    for n, expected in enumerate(A1[1:], start=1):
        assert r.scalarmult_base(scalar(n)).hex() == expected
        assert r.scalarmult(scalar(n), base).hex() == expected
        assert r.is_valid_point(bytes.fromhex(expected))
        if n > 1:
            point = r.add(point, base)
            assert point.hex() == expected


@pytest.mark.parametrize("encoding", A2_INVALID)
def test_a2_invalid_encodings_are_rejected(encoding: str) -> None:
    point = bytes.fromhex(encoding)
    assert not r.is_valid_point(point)
    with pytest.raises(r.GroupError):
        r.scalarmult(scalar(1), point)
    with pytest.raises(r.GroupError):
        r.add(point, bytes.fromhex(A1[1]))


def test_a3_one_way_map() -> None:
    assert hashlib.sha512(A3_LABELS_AND_OUTPUTS[0][0].encode()).hexdigest() == A3_FIRST_INPUT
    for label, expected in A3_LABELS_AND_OUTPUTS:
        assert r.from_uniform_bytes(hashlib.sha512(label.encode()).digest()).hex() == expected


@pytest.mark.parametrize(("msg", "length", "expected"), K3)
def test_k3_expand_message_xmd_sha512(msg: bytes, length: int, expected: str) -> None:
    assert r.expand_message_xmd(msg, K3_DST, length).hex() == expected


@pytest.mark.parametrize(("msg", "blinded"), RFC9497)
def test_hash_to_ristretto255_via_rfc9497(msg: bytes, blinded: str) -> None:
    assert r.scalarmult(RFC9497_BLIND, r.hash_to_group(msg, RFC9497_DST)).hex() == blinded
    assert r.scalarmult_many(RFC9497_BLIND, r.hash_to_group_many([msg], RFC9497_DST))[0].hex() == blinded


def test_identity_is_refused_as_input_and_result() -> None:
    assert r.is_valid_point(r.IDENTITY)  # a valid encoding ...
    with pytest.raises(r.GroupError):  # ... but scalarmult refuses an identity result
        r.scalarmult(r.scalar_random(), r.IDENTITY)
    with pytest.raises(r.GroupError):
        r.scalarmult_many(r.scalar_random(), [bytes.fromhex(A1[1]), r.IDENTITY])
    order = bytes.fromhex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
    with pytest.raises(r.GroupError):
        r.scalarmult(order, bytes.fromhex(A1[1]))


def test_scalars() -> None:
    s = r.scalar_random()
    assert s != r.scalar_random()
    point = r.hash_to_group(b"item")
    assert r.scalarmult(r.scalar_invert(s), r.scalarmult(s, point)) == point
    with pytest.raises(r.GroupError):
        r.scalar_invert(scalar(0))
    assert r.scalar_reduce(scalar(5) + bytes(32)) == scalar(5)
    with pytest.raises(r.GroupError):
        r.scalarmult(b"short", point)


def test_batches_match_single_calls_and_threads() -> None:
    msgs = [i.to_bytes(4, "big") for i in range(3000)]
    s = r.scalar_random()
    single = [r.scalarmult(s, r.hash_to_group(m)) for m in msgs[:50]]
    assert r.scalarmult_many(s, r.hash_to_group_many(msgs[:50]))[:50] == single
    assert r.hash_to_group_many(msgs, workers=2) == r.hash_to_group_many(msgs)
    long_dst = b"x" * 300
    assert r.hash_to_group_many([b"m"], long_dst) == [r.hash_to_group(b"m", long_dst)]


def test_missing_library_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(r.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(r.ctypes, "CDLL", lambda name: (_ for _ in ()).throw(OSError(name)))
    with pytest.raises(r.PrivacyUnavailable, match="apt-get install libsodium23"):
        r._load()

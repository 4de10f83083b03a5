import logging

from zikao.core.masking import PersonalDataLogFilter, mask_id_number, mask_name, mask_phone, scrub


def test_masks():
    assert mask_id_number("32010219950314123X") == "320102********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("王小明") == "王**"
    assert mask_name("欧阳娜娜") == "欧阳**"
    assert mask_name("李") == "李"
    assert mask_id_number("") == ""


def test_log_filter_masks_id_and_phone(caplog):
    logger = logging.getLogger("zikao.test.masking")
    logger.addFilter(PersonalDataLogFilter())
    with caplog.at_level(logging.INFO, logger="zikao.test.masking"):
        logger.info("lookup %s phone %s", "32010219950314123X", "13812345678")
    assert caplog.records[0].getMessage() == "lookup 320102********123X phone 138****5678"
    assert "19950314" not in caplog.text


def test_scrub_leaves_other_numbers():
    assert scrub("candidate 010224100001 course 00015") == "candidate 010224100001 course 00015"

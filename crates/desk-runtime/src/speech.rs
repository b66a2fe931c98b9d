//! What the desk says aloud, like a shop's payment speaker: "微信收款 一百二十三点五元". Amounts
//! are read the way shops say them (两 before 千, 万 and 亿 and a leading 百; one 零 for a run of zeros; the
//! decimal part digit by digit without trailing zeros), and turned into tone-numbered pinyin for
//! the voice (`voice.rs`), which reads pinyin far better than characters.

use wxpay::Fen;

/// A phrase in characters (shown in settings, logged in tests) and in pinyin (spoken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    pub hanzi: String,
    pub pinyin: String,
}

impl Phrase {
    fn new(hanzi: String) -> Phrase {
        let pinyin = to_pinyin(&hanzi);
        Phrase { hanzi, pinyin }
    }
}

/// "微信收款 十二点五元" for one paid order.
pub fn order_paid(amount: Fen) -> Phrase {
    Phrase::new(format!("微信收款 {}", yuan_reading(amount)))
}

/// "微信收款 十二笔 共一千二百三十四元" for a burst.
pub fn orders_paid(count: u64, total: Fen) -> Phrase {
    Phrase::new(format!(
        "微信收款 {}笔 共{}",
        counted(count),
        yuan_reading(total)
    ))
}

/// The amount in characters with its unit: ¥0.05 → "零点零五元", ¥10.50 → "十点五元".
pub fn yuan_reading(amount: Fen) -> String {
    let fen = amount.get();
    let sign = if fen < 0 { "负" } else { "" };
    let fen = fen.unsigned_abs();
    let (yuan, cents) = (fen / 100, fen % 100);
    // ¥2 is 两元, but ¥2.50 is 二点五元: a number with a decimal part is read as a number.
    let whole = if cents == 0 {
        counted(yuan)
    } else {
        integer(yuan)
    };
    let mut text = format!("{sign}{whole}");
    if cents != 0 {
        text.push('点');
        text.push(DIGITS[(cents / 10) as usize]);
        if cents % 10 != 0 {
            text.push(DIGITS[(cents % 10) as usize]);
        }
    }
    text.push('元');
    text
}

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// A whole number as said before a unit or measure word: 2 → 两, 12 → 十二, 20,000 → 两万.
fn counted(n: u64) -> String {
    if n == 2 {
        return "两".to_owned();
    }
    integer(n)
}

/// A whole number in characters, with 万 and 亿 groups.
fn integer(n: u64) -> String {
    if n == 0 {
        return "零".to_owned();
    }
    let mut text = String::new();
    read_groups(n, &mut text, true);
    text
}

/// Appends `n` (> 0); `leading` when nothing was said before it (10 is 十, not 一十).
fn read_groups(n: u64, text: &mut String, leading: bool) {
    const YI: u64 = 100_000_000;
    const WAN: u64 = 10_000;
    for (size, unit) in [(YI, '亿'), (WAN, '万')] {
        if n >= size {
            let (high, low) = (n / size, n % size);
            // A lone 2 before 万 or 亿 is 两 (两万), otherwise as counted (十二万).
            if high == 2 {
                text.push('两');
            } else {
                read_groups(high, text, leading);
            }
            text.push(unit);
            if low > 0 {
                // 100,010 is 十万零一十: a gap below the group's top digit is one 零.
                let gap = low < size / 10;
                if gap {
                    text.push('零');
                }
                read_groups(low, text, false);
            }
            return;
        }
    }
    read_section(n, text, leading);
}

/// A number below 10,000 (> 0).
fn read_section(n: u64, text: &mut String, leading: bool) {
    let digits = [n / 1000, n / 100 % 10, n / 10 % 10, n % 10];
    let units = [Some('千'), Some('百'), Some('十'), None];
    let mut pending_zero = false;
    let mut said = false;
    for (place, (&digit, unit)) in digits.iter().zip(units).enumerate() {
        if digit == 0 {
            pending_zero |= said;
            continue;
        }
        if pending_zero {
            text.push('零');
            pending_zero = false;
        }
        match (digit, place) {
            // 两千 always, 两百 at the start (一千二百), 二十 and 二 never.
            (2, 0) => text.push('两'),
            (2, 1) if leading && !said && text.is_empty() => text.push('两'),
            // 十 at the very start; 一十 after something (一百一十, 零一十).
            (1, 2) if leading && !said && text.is_empty() => {}
            _ => text.push(DIGITS[digit as usize]),
        }
        if let Some(unit) = unit {
            text.push(unit);
        }
        said = true;
    }
}

/// Tone-numbered pinyin, a space between syllables, a comma for a space in the characters.
/// 一 changes tone before another syllable as spoken (一百 yi4 bai3, 一万 yi2 wan4).
fn to_pinyin(hanzi: &str) -> String {
    let chars: Vec<char> = hanzi.chars().collect();
    let mut words: Vec<String> = Vec::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let syllable = match c {
            ' ' => {
                words.push(",".to_owned());
                continue;
            }
            '一' => match chars.get(i + 1).map(|&next| syllable_of(next)) {
                Some(Some(next)) if matches!(chars[i + 1], '百' | '千' | '万' | '亿') => {
                    if next.ends_with('4') { "yi2" } else { "yi4" }
                }
                _ => "yi1",
            },
            other => syllable_of(other).unwrap_or("?"),
        };
        words.push(syllable.to_owned());
    }
    words.join(" ").replace(" , ", ", ")
}

fn syllable_of(c: char) -> Option<&'static str> {
    Some(match c {
        '零' => "ling2",
        '一' => "yi1",
        '二' => "er4",
        '两' => "liang3",
        '三' => "san1",
        '四' => "si4",
        '五' => "wu3",
        '六' => "liu4",
        '七' => "qi1",
        '八' => "ba1",
        '九' => "jiu3",
        '十' => "shi2",
        '百' => "bai3",
        '千' => "qian1",
        '万' => "wan4",
        '亿' => "yi4",
        '点' => "dian3",
        '元' => "yuan2",
        '负' => "fu4",
        '微' => "wei1",
        '信' => "xin4",
        '收' => "shou1",
        '款' => "kuan3",
        '笔' => "bi3",
        '共' => "gong4",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    // Amounts are written as yuan_fen (123_50 is ¥123.50).
    #![allow(clippy::inconsistent_digit_grouping)]
    use super::*;

    #[test]
    fn amounts_read_as_shops_say_them() {
        let table: &[(i64, &str)] = &[
            (5, "零点零五元"),
            (10, "零点一元"),
            (1_00, "一元"),
            (2_00, "两元"),
            (2_50, "二点五元"),
            (10_00, "十元"),
            (10_50, "十点五元"),
            (12_05, "十二点零五元"),
            (20_00, "二十元"),
            (22_00, "二十二元"),
            (101_00, "一百零一元"),
            (110_00, "一百一十元"),
            (123_50, "一百二十三点五元"),
            (200_00, "两百元"),
            (1_001_00, "一千零一元"),
            (2_222_00, "两千二百二十二元"),
            (1_234_00, "一千二百三十四元"),
            (1_002_000_00, "一百万两千元"),
            (10_000_00, "一万元"),
            (10_100_00, "一万零一百元"),
            (12_000_00, "一万两千元"),
            (20_000_00, "两万元"),
            (100_000_00, "十万元"),
            (100_010_00, "十万零一十元"),
            (120_000_00, "十二万元"),
            (200_002_00, "二十万零二元"),
            (1_234_567_89, "一百二十三万四千五百六十七点八九元"),
            (10_000_000_00, "一千万元"),
            (100_000_001_00, "一亿零一元"),
            (200_000_000_00, "两亿元"),
            (1_000_010_000_00, "十亿零一万元"),
        ];
        for &(fen, expected) in table {
            assert_eq!(yuan_reading(Fen::new(fen)), expected, "{fen} fen");
        }
    }

    #[test]
    fn phrases_come_with_tone_numbered_pinyin() {
        let one = order_paid(Fen::new(123_50));
        assert_eq!(one.hanzi, "微信收款 一百二十三点五元");
        assert_eq!(
            one.pinyin,
            "wei1 xin4 shou1 kuan3, yi4 bai3 er4 shi2 san1 dian3 wu3 yuan2"
        );
        assert_eq!(
            order_paid(Fen::new(10_000_00)).pinyin,
            "wei1 xin4 shou1 kuan3, yi2 wan4 yuan2",
            "一 before a fourth tone is said yi2"
        );
        let burst = orders_paid(2, Fen::new(1_234_00));
        assert_eq!(burst.hanzi, "微信收款 两笔 共一千二百三十四元");
        assert!(!burst.pinyin.contains('?'), "{}", burst.pinyin);
    }

    #[test]
    fn every_character_a_phrase_can_hold_has_a_syllable() {
        for fen in (0..3_000_i64).chain((0..40_u32).map(|k| 7_i64.pow(k % 20) * i64::from(k + 1))) {
            let phrase = orders_paid(fen.unsigned_abs() % 1000, Fen::new(fen));
            assert!(!phrase.pinyin.contains('?'), "{fen}: {}", phrase.pinyin);
        }
    }
}

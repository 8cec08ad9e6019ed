//! From what staff write to what the public reads: Markdown to HTML by
//! `pulldown-cmark`, then through `ammonia`'s allow-list (no script, style,
//! iframe, form, event handler or `javascript:` link survives, whatever
//! the Markdown smuggled in as raw HTML); slugs from Vietnamese titles; the
//! Atom feed by `atom_syndication`.

use atom_syndication::{Content, Entry, Feed, Link, Person, Text};
use chrono::{DateTime, FixedOffset, Utc};
use pulldown_cmark::{html, Options, Parser};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// What the feed needs of an article.
pub struct FeedItem {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub slug: String,
    pub summary: String,
    pub body_markdown: String,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The body as HTML safe to put in any page.
pub fn to_safe_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into())
        .clean(&unsafe_html)
        .to_string()
}

/// A slug from a title: "Thư ngỏ: Sóng và máy tính cho em" becomes
/// `thu-ngo-song-va-may-tinh-cho-em` (diacritics dropped, đ as d).
pub fn slug_of(title: &str) -> String {
    let plain: String = title
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let words: Vec<&str> = plain
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut slug = String::new();
    for word in words {
        if slug.len() + word.len() + 1 > 90 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(word);
    }
    slug
}

/// Whether a slug a writer chose has the documented shape.
pub fn is_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 100
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The Atom feed of these published articles (newest first), with
/// links relative to the API root.
pub fn atom_feed(articles: Vec<FeedItem>, updated: DateTime<Utc>) -> String {
    let as_fixed = |at: DateTime<Utc>| -> DateTime<FixedOffset> { at.fixed_offset() };
    let entries: Vec<Entry> = articles
        .into_iter()
        .map(|row| {
            let href = format!("/api/v1/public/articles/{}", row.slug);
            Entry {
                id: format!("tag:songmay,2021:article:{}", row.id),
                title: Text::plain(row.title),
                updated: as_fixed(row.updated.max(row.published)),
                published: Some(as_fixed(row.published)),
                summary: (!row.summary.is_empty()).then(|| Text::plain(row.summary)),
                links: vec![Link {
                    href,
                    rel: "alternate".into(),
                    mime_type: Some("application/json".into()),
                    ..Default::default()
                }],
                content: Some(Content {
                    value: Some(to_safe_html(&row.body_markdown)),
                    content_type: Some("html".into()),
                    ..Default::default()
                }),
                categories: vec![atom_syndication::Category {
                    term: row.kind,
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    let feed = Feed {
        id: "tag:songmay,2021:articles".into(),
        title: Text::plain("Sóng và máy tính cho em — tin tức"),
        updated: as_fixed(updated),
        authors: vec![Person {
            name: "Sở Giáo dục và Đào tạo".into(),
            ..Default::default()
        }],
        links: vec![Link {
            href: "/api/v1/public/articles.atom".into(),
            rel: "self".into(),
            mime_type: Some("application/atom+xml".into()),
            ..Default::default()
        }],
        lang: Some("vi".into()),
        entries,
        ..Default::default()
    };
    feed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_titles_become_plain_slugs() {
        assert_eq!(
            slug_of("Thư ngỏ: Sóng và máy tính cho em"),
            "thu-ngo-song-va-may-tinh-cho-em"
        );
        assert_eq!(
            slug_of("Đắk Lắk — 100% học sinh có máy!"),
            "dak-lak-100-hoc-sinh-co-may"
        );
        assert!(is_slug(&slug_of("Thư ngỏ")));
        assert!(!is_slug("Thu-Ngo") && !is_slug("thu--ngo") && !is_slug("-thu") && !is_slug(""));
    }

    #[test]
    fn markdown_keeps_its_formatting_and_loses_every_script() {
        let html = to_safe_html("**Em** đã có máy\n\n[cổng](https://hoabinh.edu.vn)");
        assert!(html.contains("<strong>Em</strong>"), "{html}");
        assert!(html.contains("href=\"https://hoabinh.edu.vn\""), "{html}");
        // OWASP XSS filter-evasion vectors, as raw HTML and as Markdown.
        let vectors = [
            "<script>alert(1)</script>",
            "<IMG SRC=\"javascript:alert('XSS');\">",
            "<img src=x onerror=alert(1)>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg/onload=alert(1)>",
            "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
            "[click](javascript:alert(1))",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<body onload=alert(1)>",
            "<form action=\"https://evil.example\"><input></form>",
            "<object data=\"x.swf\"></object><embed src=\"x.swf\">",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
        ];
        for vector in vectors {
            let clean = to_safe_html(vector).to_lowercase();
            // What is left as text is escaped and harmless; inside the tags
            // that survive, no banned element, attribute or scheme.
            for tag in clean
                .split('<')
                .skip(1)
                .map(|t| t.split('>').next().unwrap_or(""))
            {
                for banned in [
                    "script",
                    "javascript:",
                    "onerror",
                    "onload",
                    "iframe",
                    "style=",
                    "form",
                    "object",
                    "embed",
                    "meta",
                    "svg",
                ] {
                    assert!(
                        !tag.contains(banned),
                        "{vector} left {banned} in <{tag}>: {clean}"
                    );
                }
            }
        }
    }
}

{#
    The weighted-average-cost position fold, as a PostgreSQL aggregate:
    `intermediate.position_state_v1(signed_quantity, price order by ...)`
    returns {net quantity, average price} after applying each fill in order.

    - Opening or adding (flat, or same sign): the average is weighted by the
      units held and the units added.
    - Reducing or closing: the remaining units keep their average price (a
      closed position has none).
    - Flipping (a fill larger than the position, opposite sign): the units
      beyond the old position open at the fill's price.

    Created only when missing (on-run-start): the transform role may create in
    `intermediate` but not replace another role's function. A change to the
    fold gets a new name (_v2), so a warehouse never runs a stale definition.
#}
{% macro create_position_aggregate() -%}
    do $position_state$
    begin
        if to_regnamespace('intermediate') is null then
            create schema intermediate;
        end if;
        if to_regprocedure(
            'intermediate.position_step_v1(numeric[], numeric, numeric)'
        ) is null then
            create function intermediate.position_step_v1(
                state numeric[], qty numeric, price numeric
            ) returns numeric[]
            language plpgsql immutable
            as $step$
            declare
                held numeric := state[1];
                after numeric := state[1] + qty;
            begin
                if qty = 0 then
                    return state;
                elsif held = 0 or sign(held) = sign(qty) then
                    return array[
                        after,
                        (abs(held) * coalesce(state[2], 0) + abs(qty) * price)
                        / abs(after)
                    ];
                elsif abs(qty) <= abs(held) then
                    return array[after, case when after = 0 then null else state[2] end];
                else
                    return array[after, price];
                end if;
            end
            $step$;
        end if;
        if to_regprocedure(
            'intermediate.position_state_v1(numeric, numeric)'
        ) is null then
            create aggregate intermediate.position_state_v1(numeric, numeric) (
                sfunc = intermediate.position_step_v1,
                stype = numeric[],
                initcond = '{0,NULL}'
            );
        end if;
    end
    $position_state$;
{%- endmacro %}

{# The business date of the run: the UTC date the period starts on. #}
{% macro business_date() -%}
    (cast('{{ var("period_start") }}' as timestamptz) at time zone 'UTC')::date
{%- endmacro %}

{#
    Pre-hook for models keyed by a business date: remove that date's rows
    before the append, so a rerun replaces the day exactly.
#}
{% macro delete_business_date(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ column }} = {{ business_date() }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#
    What a fill is worth in its price currency: units x price x multiplier for
    shares, ETFs and derivatives; nominal x price / 100 for bonds quoted in
    percent of nominal (PERC, quantity in nominal). Rounded to 6 decimals
    (a millionth of the currency unit), so sums stay readable.
#}
{% macro notional(quantity, price, price_notation, multiplier) -%}
    round(
        case
            when {{ price_notation }} = 'PERC' then {{ quantity }} * {{ price }} / 100
            else {{ quantity }} * {{ price }} * coalesce({{ multiplier }}, 1)
        end,
        6
    )
{%- endmacro %}

{#
    Pre-hook of fct_positions_daily: refuse to build a date when an earlier
    trading date with live fills was never built (after the first date ever
    built). The date would start from stale positions; the error names the
    first missing date, from which to backfill in order.
#}
{% macro positions_gap_check() -%}
    {%- if is_incremental() -%}
        do $positions_gap$
        declare
            built_before date;
            missing date;
        begin
            select max(business_date) into built_before
            from {{ this }}
            where business_date < {{ business_date() }};
            if built_before is null then
                return;
            end if;
            select min(trading_date) into missing
            from {{ ref('fct_executions') }}
            where
                trading_date > built_before
                and trading_date < {{ business_date() }}
                and execution_status = 'LIVE';
            if missing is not null then
                raise exception
                    'positions of % were never built, but it has fills: build every date from % in order (backfill) before %',
                    missing, missing, {{ business_date() }}
                    using errcode = 'data_exception';
            end if;
        end
        $positions_gap$
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#
    The order size band of a notional (var execution_quality_size_bands, the
    lower bounds in increasing order): "250-1000", the last one ">=200000";
    NO_QUOTE when the notional is unknown.
#}
{% macro size_band(notional) -%}
    {%- set bands = var('execution_quality_size_bands') -%}
    case
        when {{ notional }} is null then 'NO_QUOTE'
        {%- for lower in bands | reverse %}
            {%- set index = bands | length - loop.index %}
            {%- if index == bands | length - 1 %}
        when {{ notional }} >= {{ lower }} then '>={{ lower }}'
            {%- else %}
        when {{ notional }} >= {{ lower }} then '{{ lower }}-{{ bands[index + 1] }}'
            {%- endif %}
        {%- endfor %}
    end
{%- endmacro %}

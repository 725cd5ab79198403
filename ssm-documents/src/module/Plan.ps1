# The plan: the entries a desired state touches, in order, and the dispatch of Get / Test / Set to their concern.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

# Keys, group and service facts come from $script:BpFacts (rendered into the document from lambdas/core).

function New-BpEntry([string]$Id, [string]$Concern, $Desired, [hashtable]$Target) {
    $entry = [ordered]@{ id = $Id; concern = $Concern; desired = $Desired; hive = $null; before = $null }
    foreach ($key in $Target.Keys) { $entry[$key] = $Target[$key] }
    return $entry
}

function Find-BpFlexNetRoot($State) {
    foreach ($root in @($State.registryRoots)) {
        if (Test-BpRegistryKey ('HKLM\' + $root)) { return $root }
    }
    throw (New-BpError 'REGISTRY_ROOT_NOT_FOUND' ('no FlexNet registry root found (looked for HKLM\' + (@($State.registryRoots) -join ' and HKLM\') + '); is FlexNet Beacon installed?'))
}

# Stage 1: the account itself (only a local account is ever created).
function New-BpAccountStage($State) {
    $entries = @()
    if ($State.account.kind -eq 'local' -and $State.account.createIfMissing) {
        $entries += New-BpEntry ('account:' + $State.account.name) 'account' $true @{ name = $State.account.name }
    }
    return , $entries
}

# Stage 2: everything that needs the account's SID. Order matters: rollback walks it backwards.
function New-BpSettingsStage($State, [string]$Root, [string]$Sid, $Names, $Service, $Tasks) {
    $entries = @()
    foreach ($right in @($State.account.rights)) {
        $entries += New-BpEntry ('right:' + $right) 'right' $true @{ sid = $Sid; right = $right }
    }
    if ($State.account.localAdmin) {
        $entries += New-BpEntry 'group:Administrators' 'group' $true @{ sid = $Sid; group = $script:BpFacts.administratorsSid }
    }
    foreach ($value in @($State.registry)) {
        $desired = $null
        if ($null -ne $value.value) { $desired = [ordered]@{ type = $value.type; data = $value.value } }
        $entries += New-BpEntry ('registry:' + $value.path + '\' + $value.name) 'registry' $desired @{ path = 'HKLM\' + $Root + '\' + $value.path; name = $value.name }
    }
    if ($State.wininet.scope -eq 'machine') {
        $entries += New-BpEntry 'wininet:ProxySettingsPerUser' 'registry' ([ordered]@{ type = 'DWord'; data = 0 }) @{ path = $script:BpFacts.wininetPolicyKey; name = 'ProxySettingsPerUser' }
    } else {
        $entries += New-BpEntry 'profile' 'profile' $true @{ sid = $Sid; name = $Names.ntName }
    }
    foreach ($view in @(Get-BpWininetPaths $State $Sid)) { $entries += New-BpWininetEntries $State $view }
    # The secret version applied (no password): a rotated secret re-sets the service and task logons below.
    if ($script:BpSecretVersion) {
        $entries += New-BpEntry 'credential' 'registry' ([ordered]@{ type = 'String'; data = ($Names.ntName + '|' + $State.account.passwordRef + '|' + $script:BpSecretVersion) }) @{ path = $script:BpFacts.stateKey; name = 'AppliedCredential'; credential = $true }
    }
    $entries += New-BpEntry 'service:logon' 'serviceLogon' $Names.serviceName @{ service = $Service.name }
    foreach ($task in @($Tasks)) {
        $entries += New-BpEntry ('task:' + $task.name) 'task' ([ordered]@{ userId = $Names.ntName; logonType = 'Password'; runLevel = 'Highest' }) @{ taskPath = $task.path; taskName = $task.name }
    }
    return , $entries
}

function Get-BpEntry($Entry) {
    switch ($Entry.concern) {
        'registry' { return Get-BpRegistryEntry $Entry }
        'blob' { return Get-BpBlobEntry $Entry }
        'account' { return Get-BpAccountEntry $Entry }
        'right' { return Get-BpRightEntry $Entry }
        'group' { return Get-BpGroupEntry $Entry }
        'profile' { return Get-BpProfileEntry $Entry }
        'serviceLogon' { return Get-BpServiceLogonEntry $Entry }
        'task' { return Get-BpTaskEntry $Entry }
    }
    throw (New-BpError 'INTERNAL' ('unknown concern ' + $Entry.concern))
}

# $Exact: compare with a captured value (rollback) rather than with the desired state.
function Test-BpEntry($Entry, $Actual, $Expected, [bool]$Exact) {
    switch ($Entry.concern) {
        'registry' { return Test-BpRegistryEntry $Entry $Actual $Expected }
        'blob' { return Test-BpBlobEntry $Entry $Actual $Expected $Exact }
        'serviceLogon' { return ((-not $Exact -and $script:BpCredentialRotated) -eq $false -and (Test-BpSameAccount $Actual $Expected)) }
        'task' { return ((-not $Exact -and $script:BpCredentialRotated) -eq $false -and (Test-BpTaskEntry $Entry $Actual $Expected $Exact)) }
    }
    return ([bool]$Actual -eq [bool]$Expected)
}

function Set-BpEntry($Entry, $Value, [bool]$Restore) {
    switch ($Entry.concern) {
        'registry' { Set-BpRegistryEntry $Entry $Value; return }
        'blob' { Set-BpBlobEntry $Entry $Value $Restore; return }
        'account' { Set-BpAccountEntry $Entry $Value $Restore; return }
        'right' { Set-BpRightEntry $Entry $Value; return }
        'group' { Set-BpGroupEntry $Entry $Value; return }
        'profile' { Set-BpProfileEntry $Entry $Value; return }
        'serviceLogon' { Set-BpServiceLogonEntry $Entry $Value $Restore; return }
        'task' { Set-BpTaskEntry $Entry $Value $Restore; return }
    }
    throw (New-BpError 'INTERNAL' ('unknown concern ' + $Entry.concern))
}

# The value as the result line shows it (expected / actual of a check).
# A proxy address read from the beacon never shows user info (Hide-BpUserInfo).
function Format-BpEntryValue($Entry, $Value) {
    if ($null -eq $Value) { return $null }
    switch ($Entry.concern) {
        'registry' { if ($Value.data -is [string]) { return Hide-BpUserInfo (Protect-BpText $Value.data) } return $Value.data }
        'blob' {
            if ($Value -is [string]) { $Value = Format-BpBlob $Value }
            if ($Value -is [System.Collections.IDictionary]) {
                $shown = [ordered]@{}
                foreach ($key in $Value.Keys) { if ($Value[$key] -is [string]) { $shown[$key] = Hide-BpUserInfo (Protect-BpText $Value[$key]) } else { $shown[$key] = $Value[$key] } }
                return $shown
            }
            return $Value
        }
        'task' { return ([string]$Value.userId + ' (' + [string]$Value.logonType + ')') }
    }
    return $Value
}

# The value as people read it in a diff (before / after): registry type and data, the WinINet blob decoded,
# an account as DOMAIN\name, a right, membership, profile or local account as present / absent, a task's
# user and run level. Never a password: the credential entry reads `updated`, and user info in a proxy
# address is hidden. $Role: 'before', 'after' (what a run writes) or 'restored' (what a rollback puts back).
function Format-BpDiffValue($Entry, $Value, [string]$Role) {
    $text = $null
    if ($Entry.Contains('credential')) { $text = Format-BpCredentialValue $Value $Role }
    else {
        switch ($Entry.concern) {
            'registry' { $text = Format-BpRegistryValue $Value }
            'blob' { $text = Format-BpBlobValue $Value }
            'serviceLogon' { $text = Format-BpAccountName $Value }
            'task' { $text = Format-BpTaskValue $Value }
            default { if ($Value) { $text = 'present' } else { $text = 'absent' } }
        }
    }
    return Hide-BpUserInfo (Protect-BpText ([string]$text))
}

# The applied credential (account, secret reference and version; never the password) reads as a state only.
function Format-BpCredentialValue($Value, [string]$Role) {
    if ($Role -eq 'after') { return 'updated' }
    if ($null -eq $Value) { return 'none' }
    if ($Role -eq 'restored') { return 'previous secret version' }
    return 'set'
}

# Runs $EntryAction for each entry, inside its hive; consecutive entries of the same hive share one load.
function Invoke-BpEntries($Entries, [scriptblock]$EntryAction) {
    $run = New-Object System.Collections.ArrayList
    $runHive = $null
    foreach ($entry in @($Entries) + @($null)) {
        $hive = $null
        if ($null -ne $entry) { $hive = $entry.hive }
        if ($run.Count -gt 0 -and ($null -eq $entry -or $hive -ne $runHive)) {
            $batch = $run.ToArray()
            Invoke-BpWithHive $runHive { foreach ($item in $batch) { & $EntryAction $item } }
            $run.Clear()
        }
        if ($null -ne $entry) { [void]$run.Add($entry); $runHive = $hive }
    }
}

# Sets each entry that differs, and notes the change: its id, and its value before and as read back after.
function Invoke-BpApply($Entries, $Changed, $Diff) {
    Invoke-BpEntries $Entries {
        param($entry)
        $script:BpStep = 'apply:' + $entry.id
        $current = Get-BpEntry $entry
        if (-not (Test-BpEntry $entry $current $entry.desired $false)) {
            Set-BpEntry $entry $entry.desired $false
            [void]$Changed.Add($entry.id)
            Add-BpDiff $Diff $entry $current (Get-BpEntry $entry) 'after'
            # A new secret version (or a first one): the logons that hold the password are set again.
            if ($entry.Contains('credential')) { $script:BpCredentialRotated = $true }
        }
    }
}

# What a run would write for an entry (a plan's "after"): the desired value; for a connection blob, the
# blob built from the current one as a run builds it (auto-detect kept).
function Get-BpPlannedValue($Entry, $Current) {
    if ($Entry.concern -ne 'blob' -or $null -eq $Entry.desired) { return $Entry.desired }
    $decoded = $null
    if ($null -ne $Current) { try { $decoded = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Current)) } catch { $decoded = $null } }
    return (New-BpConnectionSettings $decoded $Entry.desired)
}

# Reads every entry back from the system and compares it with the desired state. With $Diff (a plan), each
# entry that differs is listed with its current value and the value a run would write.
function Get-BpChecks($Entries, $Checks, $Diff) {
    Invoke-BpEntries $Entries {
        param($entry)
        $actual = Get-BpEntry $entry
        $ok = Test-BpEntry $entry $actual $entry.desired $false
        [void]$Checks.Add((New-BpCheck $entry.id (Format-BpEntryValue $entry $entry.desired) (Format-BpEntryValue $entry $actual) $ok))
        if (-not $ok) { Add-BpDiff $Diff $entry $actual (Get-BpPlannedValue $entry $actual) 'planned' }
    }
}
